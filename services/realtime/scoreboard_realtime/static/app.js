// Scoreboard page: live top N over a WebSocket, sign-in and a score action through the api.
// Plain ES module, no build step, no third-party code.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const board = params.get("board") || "default";
const STORAGE = "scoreboard.session";
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;

const state = {
  apiUrl: "",
  session: loadSession(),
  socket: null,
  attempt: 0,
  reconnectTimer: null,
  lastVersion: -1,
  actions: [],
  entries: [],
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
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token || null,
    userId: String(claims.sub || ""),
    username: claims.preferred_username || claims.name || fallbackName || String(claims.sub || ""),
  };
}

// ---------------------------------------------------------------- api calls

function api(path) {
  return `${state.apiUrl}${path}`;
}

async function problemText(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

async function postJson(path, body, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(api(path), { method: "POST", headers, body: JSON.stringify(body) });
}

async function refreshSession() {
  const refreshToken = state.session && state.session.refreshToken;
  if (!refreshToken) return false;
  try {
    const response = await postJson("/api/v1/auth/refresh", { refresh_token: refreshToken });
    if (!response.ok) return false;
    saveSession(sessionFrom(await response.json(), state.session.username));
    return true;
  } catch {
    return false;
  }
}

async function login(event) {
  event.preventDefault();
  setError("");
  const username = $("username").value.trim();
  const password = $("password").value;
  $("login-button").disabled = true;
  try {
    const response = await postJson("/api/v1/auth/login", { username, password });
    if (!response.ok) {
      setError(response.status === 401 ? "Wrong username or password." : await problemText(response));
      return;
    }
    $("password").value = "";
    saveSession(sessionFrom(await response.json(), username));
    setMessage(`Signed in as ${state.session.username}.`);
    reconnectNow();
  } catch {
    setError("Cannot reach the server. Try again.");
  } finally {
    $("login-button").disabled = false;
  }
}

async function logout() {
  const session = state.session;
  saveSession(null);
  setMessage("Signed out.");
  reconnectNow();
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
  if (state.actions.length) body.action = $("action-select").value;
  else body.score_increment = 1;
  return body;
}

async function doAction() {
  if (!state.session) return;
  setError("");
  const button = $("action-button");
  button.disabled = true;
  const body = scoreBody(); // the same action_id on retry: the api never counts it twice
  const path = `/api/v1/leaderboards/${encodeURIComponent(board)}/scores`;
  try {
    let response = await postJson(path, body, state.session.accessToken);
    if (response.status === 401 && (await refreshSession())) {
      response = await postJson(path, body, state.session.accessToken);
    }
    if (response.ok) {
      const result = await response.json();
      setMessage(`+${result.increment} points: total ${result.new_total_score}, rank ${result.rank}.`);
      showMyRank(result.rank, result.new_total_score);
    } else if (response.status === 429) {
      const retry = response.headers.get("Retry-After");
      setError(`Slow down: try again${retry ? ` in ${retry} s` : " later"}.`);
    } else if (response.status === 401) {
      saveSession(null);
      setError("Your session expired. Sign in again.");
      reconnectNow();
    } else {
      setError(await problemText(response));
    }
  } catch {
    setError("Cannot reach the server. Try again.");
  } finally {
    button.disabled = false;
  }
}

async function loadBoardInfo() {
  try {
    const response = await fetch(api(`/api/v1/leaderboards/${encodeURIComponent(board)}`), {
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return;
    const info = await response.json();
    const policy = info.policy || info.spec || {};
    if (info.display_name || info.displayName || policy.displayName) {
      $("title").textContent = info.display_name || info.displayName || policy.displayName;
    }
    const actions = (policy.scoring && policy.scoring.actions) || {};
    state.actions = Object.keys(actions);
    const select = $("action-select");
    select.replaceChildren(
      ...state.actions.map((name) => {
        const option = document.createElement("option");
        option.value = name;
        option.textContent = `${name} (+${actions[name]})`;
        return option;
      }),
    );
    select.hidden = $("action-label").hidden = state.actions.length === 0;
  } catch {
    /* the board info is a nicety; the live feed works without it */
  }
}

// ---------------------------------------------------------------- live feed

function setConnection(kind, text) {
  const node = $("connection");
  node.className = `conn conn-${kind}`;
  $("connection-text").textContent = text;
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/v1/leaderboards/${encodeURIComponent(board)}`;
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
      state.attempt = 0;
      setConnection("live", "Live");
      renderSnapshot(message);
    } else if (message.type === "rank") {
      showMyRank(message.rank, message.score, true);
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
    setError(`There is no board named “${board}”.`);
    scheduleReconnect(30000);
    return;
  }
  if (code === 4401) {
    if (!(await refreshSession())) {
      saveSession(null);
      setError("Your session expired. Sign in again.");
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
  renderEntries();
  const n = snapshot.total_players;
  $("players").textContent = `${n} ${n === 1 ? "player" : "players"}`;
  $("version").textContent = `· season ${snapshot.season} · version ${snapshot.version}`;
}

function renderEntries() {
  const me = state.session && state.session.userId;
  const rows = state.entries.map((entry) => {
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
    const score = document.createElement("td");
    score.className = "num";
    score.textContent = Number(entry.score).toLocaleString();
    row.append(rank, name, score);
    return row;
  });
  if (!rows.length) {
    const row = document.createElement("tr");
    row.className = "empty";
    const cell = document.createElement("td");
    cell.colSpan = 3;
    cell.textContent = "No scores yet. Be the first!";
    row.append(cell);
    rows.push(row);
  }
  $("entries").replaceChildren(...rows);
}

function showMyRank(rank, score, announce = false) {
  const text = rank ? `You are rank ${rank} with ${Number(score).toLocaleString()} points.` : "";
  $("my-rank").textContent = text;
  if (announce && text) setMessage(text);
}

function renderSession() {
  const session = state.session;
  $("login-form").hidden = Boolean(session);
  $("signed-in").hidden = !session;
  $("me-name").textContent = session ? session.username : "";
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
  $("board-name").textContent = `· ${board}`;
  document.title = `Scoreboard · ${board}`;
  try {
    const config = await (await fetch("/config.json", { cache: "no-store" })).json();
    state.apiUrl = (config.apiUrl || "").replace(/\/+$/, "");
  } catch {
    state.apiUrl = "";
  }
  $("login-form").addEventListener("submit", login);
  $("logout-button").addEventListener("click", logout);
  $("action-button").addEventListener("click", doAction);
  renderSession();
  connect();
  loadBoardInfo();
}

start();
