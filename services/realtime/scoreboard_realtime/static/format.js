// How a board counts and how its scores read: pure functions, no DOM, no state.
// Boards published before `order`/`operator` existed have neither: they are desc/increment.

export const MAX_SCORE = 2 ** 53 - 1; // DESIGN §2: a JavaScript-safe integer

const OPERATORS = ["increment", "best", "latest"];

/** The board's counting rules from its public policy (`GET /api/v1/leaderboards/{board}`). */
export function rulesOf(policy) {
  const p = policy && typeof policy === "object" ? policy : {};
  const order = p.order === "asc" ? "asc" : "desc";
  const operator = OPERATORS.includes(p.operator) ? p.operator : "increment";
  return { order, operator, absolute: operator !== "increment" };
}

/** One sentence a player can read: which way is better and what a submission does. */
export function ruleText(rules) {
  const better =
    rules.order === "asc"
      ? "Lower is better (time trial): the smallest score ranks first."
      : "Higher is better: the biggest score ranks first.";
  const counts = {
    increment: "Points add up.",
    best: "Your best score counts.",
    latest: "Your latest score counts.",
  }[rules.operator];
  return `${better} ${counts}`;
}

export function scoreHeading(rules) {
  return rules.order === "asc" ? "Score (lower is better)" : "Score";
}

export function tableCaption(rules, what) {
  return `${what}, ${rules.order === "asc" ? "lowest" : "highest"} score first`;
}

export function formatScore(score) {
  const n = Number(score);
  return Number.isFinite(n) ? n.toLocaleString() : "–";
}

/** The number typed into the score field, or null when it is not an allowed absolute score. */
export function parseScore(text) {
  const trimmed = String(text).trim();
  if (!/^\d{1,16}$/.test(trimmed)) return null;
  const n = Number(trimmed);
  return Number.isSafeInteger(n) && n <= MAX_SCORE ? n : null;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g;

function clip(text, max) {
  const clean = String(text).replace(CONTROL, " ").trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** A short, plain-text summary of an entry's metadata (an object or null): at most three
 *  members, each clipped, nested values elided. The caller puts it in with textContent. */
export function metadataSummary(metadata, maxMembers = 3) {
  if (!metadata || typeof metadata !== "object" || Array.isArray(metadata)) return "";
  const keys = Object.keys(metadata);
  const parts = keys.slice(0, maxMembers).map((key) => {
    const value = metadata[key];
    const shown =
      value === null || ["string", "number", "boolean"].includes(typeof value)
        ? clip(value, 24)
        : "…";
    return `${clip(key, 16)}: ${shown}`;
  });
  if (keys.length > maxMembers) parts.push(`+${keys.length - maxMembers} more`);
  return parts.join(" · ");
}
