// Scoreboard page: live top N over a WebSocket, a board picker, an account (register, sign in,
// sign out, token refresh), "you" (rank, score, neighbours), seasons and a score action.
// Plain ES modules, no build step, no third-party code. User data only ever goes in through
// textContent / DOM properties, never innerHTML.

import {
  formatScore,
  metadataSummary,
  parseScore,
  ruleText,
  rulesOf,
  scoreHeading,
  tableCaption,
} from "./format.js";

const $ = (id) => document.getElementById(id);
const STORAGE = "scoreboard.session";
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;
const REFRESH_LEAD_MS = 5 * 60 * 1000; // refresh the access token 5 min before it expires…
const YOU_REFRESH_MS = 1000; // …and "you" at most once a second on `rank` messages,
const YOU_SNAPSHOT_REFRESH_MS = 5000; // …every 5 s on snapshots
const ANNOUNCE_SETTLE_MS = 1500; // a rank is announced once it has held this long
const AROUND_RADIUS = 2;

const state = {
  apiUrl: "",
  board: "default",
  boards: [],
  boardsLoadedAt: 0,
  rules: rulesOf(null),
  session: loadSession(),
  socket: null,
  attempt: 0,
  reconnectTimer: null,
  refreshTimer: null,
  refreshing: null,
  lastVersion: -1,
  season: null, // of the last snapshot; null until the first one
  actions: [],
  entries: [],
  you: { timer: null, at: 0, last: 0, seq: 0 },
  announce: { timer: null, said: null },
};

// ---------------------------------------------------------------- session

function loadSession() {
  try {
    const raw = sessionStorage.getItem(STORAGE);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function saveSession(session) {
  state.session = session;
  if (session) sessionStorage.setItem(STORAGE, JSON.stringify(session));
  else sessionStorage.removeItem(STORAGE);
  scheduleTokenRefresh();
  renderSession();
}

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      atob(part).split("").map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    return JSON.parse(json);
  } catch {
    return {};
  }
}

function sessionFrom(tokens, fallbackName) {
  const claims = claimsOf(tokens.access_token);
  // expires_in is relative, so a client clock that is off does not matter.
  const lifetimeMs = Number(tokens.expires_in) * 1000 || (claims.exp ? claims.exp * 1000 - Date.now() : 3600000);
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token || null,
    expiresAt: Date.now() + lifetimeMs,
    userId: String(claims.sub || ""),
    username: claims.preferred_username || claims.name || fallbackName || String(claims.sub || ""),
  };
}

// Refresh before expiry: 5 minutes ahead, or half-way through a short-lived token.
function scheduleTokenRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = null;
  const session = state.session;
  if (!session || !session.refreshToken || !session.expiresAt) return;
  const left = session.expiresAt - Date.now();
  const delay = Math.max(1000, left - Math.min(REFRESH_LEAD_MS, left / 2));
  state.refreshTimer = setTimeout(refreshAhead, delay);
}

async function refreshAhead() {
  const outcome = await refreshSession();
  if (outcome === "ok") reconnectNow(); // the live socket carries the new token from now on
  else if (outcome === "offline") state.refreshTimer = setTimeout(refreshAhead, 10000);
  else sessionOver();
}

// One refresh at a time: a rotated refresh token used twice revokes the whole family.
function refreshSession() {
  if (!state.refreshing) {
    state.refreshing = doRefresh().finally(() => {
      state.refreshing = null;
    });
  }
  return state.refreshing;
}

async function doRefresh() {
  const session = state.session;
  if (!session || !session.refreshToken) return "rejected";
  try {
    const response = await postJson("/api/v1/auth/refresh", { refresh_token: session.refreshToken });
    if (!response.ok) return response.status >= 500 || response.status === 429 ? "offline" : "rejected";
    if (state.session !== session) return "rejected"; // signed out meanwhile
    saveSession(sessionFrom(await response.json(), session.username));
    return "ok";
  } catch {
    return "offline";
  }
}

function sessionOver() {
  saveSession(null);
  setError("Your session expired. Sign in again.");
  reconnectNow();
}

// ---------------------------------------------------------------- api calls

function api(path) {
  return `${state.apiUrl}${path}`;
}

function boardPath(suffix = "", board = state.board) {
  return `/api/v1/leaderboards/${encodeURIComponent(board)}${suffix}`;
}

async function problemOf(response) {
  try {
    const body = await response.json();
    return { code: body.code || "", text: body.detail || body.title || `HTTP ${response.status}` };
  } catch {
    return { code: "", text: `HTTP ${response.status}` };
  }
}

async function postJson(path, body, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(api(path), { method: "POST", headers, body: JSON.stringify(body) });
}

async function getJson(path, { auth = false } = {}) {
  const headers = { Accept: "application/json" };
  if (auth && state.session) headers.Authorization = `Bearer ${state.session.accessToken}`;
  const response = await fetch(api(path), { headers });
  if (!response.ok) return { status: response.status, body: null };
  return { status: response.status, body: await response.json() };
}

const AUTH_ERRORS = {
  weak_password:
    "That password is too weak: use at least 10 characters, not a common password and not your username.",
  username_taken: "That username is taken. Choose another one, or sign in if it is yours.",
  username_reserved: "That username is reserved. Choose another one.",
  registration_disabled: "Creating accounts is turned off here. Ask an admin for an account.",
  invalid_credentials: "Wrong username or password.",
  login_throttled: "Too many failed sign-ins for this account. Wait a moment and try again.",
  rate_limited: "Too many attempts from here. Wait a moment and try again.",
  identity_disabled: "This site signs players in elsewhere; there are no passwords here.",
};

async function authError(response) {
  const problem = await problemOf(response);
  const known = AUTH_ERRORS[problem.code];
  if (known && problem.code === "weak_password" && problem.text) return `${known} (${problem.text})`;
  if (known) return known;
  if (response.status === 401) return AUTH_ERRORS.invalid_credentials;
  if (response.status === 400) return `Check the username and password: ${problem.text}`;
  return problem.text;
}

function credentials() {
  return { username: $("username").value.trim(), password: $("password").value };
}

async function signIn(username, password) {
  const response = await postJson("/api/v1/auth/login", { username, password });
  if (!response.ok) {
    setError(await authError(response));
    return false;
  }
  $("password").value = "";
  saveSession(sessionFrom(await response.json(), username));
  reconnectNow();
  refreshYou(0);
  return true;
}

// Buttons are marked busy with aria-disabled, not `disabled`: disabling the focused button
// would drop keyboard focus to the page's start.
async function whileBusy(buttons, work) {
  if (buttons.some((b) => b.getAttribute("aria-disabled") === "true")) return;
  buttons.forEach((b) => b.setAttribute("aria-disabled", "true"));
  try {
    await work();
  } catch {
    setError("Cannot reach the server. Try again.");
  } finally {
    buttons.forEach((b) => b.removeAttribute("aria-disabled"));
  }
}

function withAuthForm(work) {
  setError("");
  return whileBusy([$("login-button"), $("register-button")], work);
}

function login(event) {
  event.preventDefault();
  const { username, password } = credentials();
  return withAuthForm(async () => {
    if (await signIn(username, password)) {
      setMessage(`Signed in as ${state.session.username}.`);
      $("action-button").focus();
    }
  });
}

function register() {
  const form = $("login-form");
  if (!form.reportValidity()) return undefined;
  const { username, password } = credentials();
  return withAuthForm(async () => {
    const response = await postJson("/api/v1/auth/register", { username, password });
    if (!response.ok) {
      setError(await authError(response));
      return;
    }
    if (await signIn(username, password)) {
      setMessage(`Welcome, ${state.session.username}! Your account is ready and you are signed in.`);
      $("action-button").focus();
    }
  });
}

async function logout() {
  const session = state.session;
  saveSession(null);
  setError("");
  setMessage("Signed out.");
  reconnectNow();
  $("username").focus();
  if (session && session.refreshToken) {
    try {
      await postJson("/api/v1/auth/logout", { refresh_token: session.refreshToken });
    } catch {
      /* the local session is gone either way */
    }
  }
}

// crypto.randomUUID exists only in secure contexts (https, localhost); a trial behind a plain
// HTTP ingress is not one, so build the same random (v4) UUID from getRandomValues there.
function newActionId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function scoreBody() {
  const body = { action_id: newActionId(), timestamp: new Date().toISOString() };
  if (state.rules.absolute) {
    const score = parseScore($("score-input").value);
    if (score === null) return null;
    body.score = score;
  } else if (state.actions.length) {
    body.action = $("action-select").value;
  } else {
    body.score_increment = 1;
  }
  return body;
}

async function doAction(event) {
  event.preventDefault();
  if (!state.session) return;
  setError("");
  const body = scoreBody(); // the same action_id on retry: the api never counts it twice
  if (!body) {
    setError("Enter a whole number of 0 or more as your score.");
    $("score-input").focus();
    return;
  }
  await whileBusy([$("action-button")], () => submitScore(body));
}

async function submitScore(body) {
  const path = boardPath("/scores");
  let response = await postJson(path, body, state.session.accessToken);
  if (response.status === 401 && (await refreshSession()) === "ok") {
    response = await postJson(path, body, state.session.accessToken);
  }
  if (response.ok) {
    const result = await response.json();
    const where = result.rank ? `rank ${result.rank}` : "not ranked";
    setMessage(
      state.rules.absolute
        ? `Score ${formatScore(body.score)} sent: your score is ${formatScore(result.new_total_score)}, ${where}.`
        : `+${points(result.increment)}: total ${result.new_total_score}, ${where}.`,
    );
    showMyRank(result.rank, result.new_total_score);
    refreshYou(0);
  } else if (response.status === 429) {
    const retry = response.headers.get("Retry-After");
    setError(`Slow down: try again${retry ? ` in ${retry} s` : " later"}.`);
  } else if (response.status === 401) {
    sessionOver();
  } else {
    setError((await problemOf(response)).text);
  }
}

// ---------------------------------------------------------------- boards

async function loadBoards() {
  state.boardsLoadedAt = Date.now();
  try {
    const { body } = await getJson("/api/v1/leaderboards");
    state.boards = (body && body.leaderboards) || [];
  } catch {
    state.boards = [];
  }
  renderBoardPicker();
}

function renderBoardPicker() {
  const select = $("board-select");
  const chosen = select.value || state.board; // keep what the user is choosing
  const boards = [...state.boards];
  if (!boards.some((b) => b.name === state.board)) boards.unshift({ name: state.board });
  select.replaceChildren(
    ...boards.map((b) => {
      const option = document.createElement("option");
      option.value = b.name;
      const title = b.display_name && b.display_name !== b.name ? `${b.display_name} (${b.name})` : b.name;
      option.textContent = title;
      return option;
    }),
  );
  select.value = boards.some((b) => b.name === chosen) ? chosen : state.board;
}

function boardFromUrl(fallback) {
  return new URLSearchParams(location.search).get("board") || fallback;
}

function switchBoard(name, { push = true } = {}) {
  if (!name || name === state.board) return;
  state.board = name;
  if (push) {
    const url = new URL(location.href);
    url.searchParams.set("board", name);
    history.pushState({ board: name }, "", url);
  }
  boardChanged();
}

function boardChanged() {
  state.lastVersion = -1;
  state.season = null;
  state.entries = [];
  state.announce.said = null;
  clearTimeout(state.announce.timer);
  setError("");
  setMessage("");
  $("board-name").textContent = `· ${state.board}`;
  $("title").textContent = "Scoreboard";
  document.title = `Scoreboard · ${state.board}`;
  $("board-select").value = state.board;
  $("players").textContent = "";
  $("version").textContent = "";
  renderEntries();
  reconnectNow();
  loadBoardInfo();
  loadSeasons();
  refreshYou(0);
}

async function loadBoardInfo() {
  const board = state.board;
  let info = null;
  try {
    const { body } = await getJson(boardPath("", board));
    info = body;
  } catch {
    /* the board info is a nicety; the live feed works without it */
  }
  if (board !== state.board) return;
  const policy = (info && (info.policy || info.spec)) || {};
  state.rules = rulesOf(policy);
  const title = info && (info.display_name || policy.displayName);
  $("title").textContent = title || "Scoreboard";
  const actions = (policy.scoring && policy.scoring.actions) || {};
  state.actions = state.rules.absolute ? [] : Object.keys(actions);
  $("action-select").replaceChildren(
    ...state.actions.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = `${name} (+${actions[name]})`;
      return option;
    }),
  );
  renderRules();
}

function renderRules() {
  const rules = state.rules;
  $("board-rule").textContent = ruleText(rules);
  $("board").classList.toggle("asc", rules.order === "asc");
  $("board-caption").textContent = tableCaption(rules, "Live top players");
  for (const th of document.querySelectorAll(".score-heading")) th.textContent = scoreHeading(rules);
  const absolute = rules.absolute;
  $("action-select").hidden = $("action-label").hidden = absolute || state.actions.length === 0;
  $("score-input").hidden = $("score-label").hidden = !absolute;
  $("score-input").required = absolute;
  $("score-label").textContent = rules.order === "asc" ? "Your score (lower is better)" : "Your score";
  $("action-button").textContent = absolute ? "Submit score" : "Do action";
}

// ---------------------------------------------------------------- you

// "You" is reloaded from the api on sign-in and after a score (at once), on the feed's `rank`
// message (at most once a second) and on snapshots (at most every 5 s: with many viewers on a
// busy board, every snapshot must not become two api reads per viewer). Between reloads your
// rank follows the snapshots whenever you are in the top N.
function refreshYou(minGapMs = YOU_REFRESH_MS) {
  if (!state.session) return;
  const at = Math.max(Date.now(), state.you.last + minGapMs);
  if (state.you.timer && state.you.at <= at) return; // an earlier reload is already planned
  clearTimeout(state.you.timer);
  state.you.at = at;
  state.you.timer = setTimeout(() => {
    state.you.timer = null;
    loadYou();
  }, at - Date.now());
}

async function loadYou() {
  const session = state.session;
  if (!session) return;
  state.you.last = Date.now();
  const seq = ++state.you.seq;
  const board = state.board;
  try {
    let me = await getJson(boardPath("/me", board), { auth: true });
    if (me.status === 401 && (await refreshSession()) === "ok") {
      me = await getJson(boardPath("/me", board), { auth: true });
    }
    if (seq !== state.you.seq || board !== state.board || state.session === null) return;
    if (me.status === 404) {
      $("my-rank").textContent = "No score on this board yet: your first one puts you on it.";
      renderRows($("around"), [], "");
      $("around-block").hidden = true;
      return;
    }
    if (!me.body) return;
    showMyRank(me.body.rank, me.body.score);
    announceRank(me.body.rank); // others overtaking you sends no `rank` message: see it here
    const userId = encodeURIComponent(me.body.user_id || state.session.userId);
    const around = await getJson(boardPath(`/players/${userId}/around?radius=${AROUND_RADIUS}`, board));
    if (seq !== state.you.seq || board !== state.board || !around.body) return;
    renderRows($("around"), around.body.entries || [], "");
    $("around-block").hidden = false;
  } catch {
    /* "you" catches up on the next update */
  }
}

function points(n) {
  return `${formatScore(n)} ${Number(n) === 1 ? "point" : "points"}`;
}

function showMyRank(rank, score) {
  const amount = state.rules.absolute ? `a score of ${formatScore(score)}` : points(score);
  $("my-rank").textContent = rank
    ? `You are rank ${rank} with ${amount}.`
    : `You have ${amount} and are not ranked.`;
}

// A screen reader hears a rank change once it has settled, never a burst of them, and never
// the same rank twice.
function announceRank(rank) {
  clearTimeout(state.announce.timer);
  if (!rank || rank === state.announce.said) return;
  state.announce.timer = setTimeout(() => {
    const previous = state.announce.said;
    state.announce.said = rank;
    $("announcer").textContent =
      previous && rank < previous ? `You moved up to rank ${rank}.` :
      previous && rank > previous ? `You moved down to rank ${rank}.` : `You are rank ${rank}.`;
  }, ANNOUNCE_SETTLE_MS);
}

// ---------------------------------------------------------------- seasons

async function loadSeasons() {
  const board = state.board;
  let body = null;
  try {
    body = (await getJson(boardPath("/seasons", board))).body;
  } catch {
    body = null;
  }
  if (board !== state.board) return;
  const seasons = (body && body.seasons) || [];
  const archived = seasons.filter((s) => !s.current).sort((a, b) => b.season - a.season);
  $("season-current").textContent = body
    ? `Current season: ${body.current_season}. ${archived.length ? `${archived.length} archived.` : "No archived seasons yet."}`
    : "";
  const select = $("season-select");
  select.replaceChildren(
    ...archived.map((s) => {
      const option = document.createElement("option");
      option.value = String(s.season);
      const ended = s.ended_at ? `, ended ${new Date(s.ended_at).toLocaleDateString()}` : "";
      const players = typeof s.players === "number" ? `, ${s.players} ${s.players === 1 ? "player" : "players"}` : "";
      option.textContent = `Season ${s.season}${ended}${players}`;
      return option;
    }),
  );
  $("season-field").hidden = archived.length === 0;
  if (archived.length) loadSeasonTop(archived[0].season);
  else $("season-table").hidden = true;
}

async function loadSeasonTop(season) {
  const board = state.board;
  let body = null;
  try {
    body = (await getJson(boardPath(`/seasons/${encodeURIComponent(season)}/top`, board))).body;
  } catch {
    body = null;
  }
  if (board !== state.board || String(season) !== $("season-select").value) return;
  $("season-caption").textContent = `Final standings of season ${season}`;
  renderRows($("season-entries"), (body && body.entries) || [], body ? "Nobody scored that season." : "Cannot load that season.");
  $("season-table").hidden = false;
}

// ---------------------------------------------------------------- live feed

function setConnection(kind, text) {
  $("connection").className = `conn conn-${kind}`;
  $("connection-text").textContent = text;
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/v1/leaderboards/${encodeURIComponent(state.board)}`;
}

function connect() {
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = null;
  setConnection("connecting", state.attempt ? "Reconnecting…" : "Connecting…");
  const protocols = state.session ? ["bearer", state.session.accessToken] : [];
  let socket;
  try {
    socket = new WebSocket(socketUrl(), protocols);
  } catch {
    scheduleReconnect();
    return;
  }
  state.socket = socket;
  socket.onmessage = (event) => {
    if (socket !== state.socket) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === "snapshot") {
      if (message.leaderboard && message.leaderboard !== state.board) return;
      state.attempt = 0;
      setConnection("live", "Live");
      renderSnapshot(message);
      refreshYou(YOU_SNAPSHOT_REFRESH_MS);
    } else if (message.type === "rank") {
      if (state.session && message.user_id && message.user_id !== state.session.userId) return;
      showMyRank(message.rank, message.score);
      announceRank(message.rank);
      refreshYou();
    }
  };
  socket.onclose = (event) => {
    if (socket !== state.socket) return;
    state.socket = null;
    onClosed(event.code, event.reason);
  };
}

async function onClosed(code, reason) {
  if (code === 4404) {
    setConnection("offline", "Unknown board");
    setError(`There is no board named “${state.board}”.`);
    scheduleReconnect(30000);
    return;
  }
  if (code === 4401) {
    const fresh = state.session && state.session.expiresAt - Date.now() > 10000;
    if (!fresh && (await refreshSession()) !== "ok") {
      if (state.session) sessionOver();
      return;
    }
  } else if (code === 4403) {
    setError(reason || "Sign in to watch this board.");
    setConnection("offline", "Sign-in required");
    if (!state.session) return; // reconnect after signing in
  }
  setConnection("offline", "Offline — reconnecting");
  scheduleReconnect();
}

function scheduleReconnect(minimum = 0) {
  clearTimeout(state.reconnectTimer);
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** state.attempt);
  state.attempt += 1;
  // Full jitter: spread a mass reconnect (e.g. a replica shutting down) over the window.
  const delay = Math.max(minimum, 250 + Math.random() * ceiling);
  state.reconnectTimer = setTimeout(connect, delay);
}

function reconnectNow() {
  const socket = state.socket;
  state.socket = null;
  state.attempt = 0;
  if (socket) socket.close(1000, "reconnecting");
  connect();
}

// ---------------------------------------------------------------- rendering

function renderSnapshot(snapshot) {
  if (typeof snapshot.version === "number") {
    if (snapshot.version < state.lastVersion) return; // stale: versions only grow
    state.lastVersion = snapshot.version;
  }
  state.entries = snapshot.entries || [];
  const seasonChanged = state.season !== null && snapshot.season !== state.season;
  state.season = snapshot.season;
  renderEntries();
  const mine = state.session && state.entries.find((e) => e.user_id === state.session.userId);
  if (mine) {
    showMyRank(mine.rank, mine.score);
    announceRank(mine.rank);
  }
  if (seasonChanged) loadSeasons(); // a reset archived the last season: show it
  const n = snapshot.total_players;
  $("players").textContent = `${n} ${n === 1 ? "player" : "players"}`;
  $("version").textContent = `· season ${snapshot.season} · version ${snapshot.version}`;
}

function renderEntries() {
  const empty = state.season === null ? "Waiting for the board…" : "No scores yet. Be the first!";
  renderRows($("entries"), state.entries, empty);
}

function renderRows(tbody, entries, emptyText) {
  const me = state.session && state.session.userId;
  const rows = entries.map((entry) => {
    const row = document.createElement("tr");
    row.dataset.userId = entry.user_id;
    const mine = me && entry.user_id === me;
    if (mine) {
      row.className = "me";
      row.setAttribute("aria-current", "true");
    }
    const rank = document.createElement("td");
    rank.textContent = String(entry.rank);
    const name = document.createElement("td");
    name.className = "name";
    name.textContent = entry.username || entry.user_id;
    if (mine) name.append(" (you)");
    const summary = metadataSummary(entry.metadata);
    if (summary) {
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = summary;
      name.append(meta);
    }
    const score = document.createElement("td");
    score.className = "num";
    score.textContent = formatScore(entry.score);
    row.append(rank, name, score);
    return row;
  });
  if (!rows.length && emptyText) {
    const row = document.createElement("tr");
    row.className = "empty";
    const cell = document.createElement("td");
    cell.colSpan = 3;
    cell.textContent = emptyText;
    row.append(cell);
    rows.push(row);
  }
  tbody.replaceChildren(...rows);
}

function renderSession() {
  const session = state.session;
  $("login-form").hidden = Boolean(session);
  $("signed-in").hidden = !session;
  $("me-name").textContent = session ? session.username : "";
  if (!session) {
    $("around-block").hidden = true;
    $("my-rank").textContent = "Your rank will show here after your first score.";
    state.announce.said = null;
  }
  renderEntries();
}

function setMessage(text) {
  $("message").textContent = text;
}

function setError(text) {
  $("error").textContent = text;
}

// ---------------------------------------------------------------- start

async function start() {
  let config = {};
  try {
    config = await (await fetch("/config.json", { cache: "no-store" })).json();
  } catch {
    config = {};
  }
  state.apiUrl = (config.apiUrl || "").replace(/\/+$/, "");
  state.board = boardFromUrl(config.defaultBoard || "default");
  $("login-form").addEventListener("submit", login);
  $("register-button").addEventListener("click", register);
  $("logout-button").addEventListener("click", logout);
  $("action-form").addEventListener("submit", doAction);
  // An explicit button, not "change": arrowing through a closed select must not switch boards.
  $("board-form").addEventListener("submit", (event) => {
    event.preventDefault();
    switchBoard($("board-select").value);
  });
  $("board-select").addEventListener("focus", () => {
    if (Date.now() - state.boardsLoadedAt > 5000) loadBoards(); // boards come and go
  });
  $("season-select").addEventListener("change", (event) => loadSeasonTop(event.target.value));
  window.addEventListener("popstate", () => switchBoard(boardFromUrl(config.defaultBoard || "default"), { push: false }));
  renderBoardPicker();
  renderSession();
  if (state.session && state.session.expiresAt && state.session.expiresAt <= Date.now() + 10000) {
    if ((await refreshSession()) !== "ok") saveSession(null);
  }
  scheduleTokenRefresh();
  $("board-name").textContent = `· ${state.board}`;
  document.title = `Scoreboard · ${state.board}`;
  connect();
  loadBoards();
  loadBoardInfo();
  loadSeasons();
  refreshYou(0);
}

start();
