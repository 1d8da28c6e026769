/**
 * The longest step timeout, in seconds. Node's timers hold at most 2^31-1 ms (about 24.8 days);
 * a longer delay overflows and fires at once, so every step would "time out after 0 s". The
 * recipe and config schemas carry the same number (schemas/*.schema.json, `maximum`).
 */
export const MAX_STEP_TIMEOUT_SEC = Math.floor((2 ** 31 - 1) / 1000);
