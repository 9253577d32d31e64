/**
 * Pre-filter: one pass over the UTF-16 code units of a value that raises a bit per detector family
 * worth running. Most result values (ids, timestamps, prices, words) raise nothing, so the engine can
 * return them untouched without running a single regex. Every bit is a necessary condition for its
 * detector's regex to match, so the pass never hides a match; it may raise bits spuriously.
 */

export const H_EMAIL = 1 << 0; // '@'
export const H_CARD = 1 << 1; // ≥ 13 digits, optionally split by one consistent ' ' or '-'
export const H_SSN = 1 << 2; // ≥ 9 digits split by '-' at least twice
export const H_PHONE = 1 << 3; // '+' or '(' before a digit at a word start, or ≥ 10 separated digits
export const H_IBAN = 1 << 4; // two upper-case letters followed by two digits
export const H_IPV4 = 1 << 5; // four digit groups joined by '.'
export const H_IPV6 = 1 << 6; // '::', or ≥ 7 ':' in one hex/colon run
export const H_JWT = 1 << 7; // 'eyJ' (base64url of '{"')
export const H_PEM = 1 << 8; // '-----B'
export const H_TOKEN = 1 << 9; // 'AKIA'/'ASIA', 'gh?_', 'github_pat_', 'xox?-'
export const H_ASSIGN = 1 << 10; // '=', ':' or a quote right after a key-like word (…word, …wd, …ret, …ken, …key, …ase, by)
export const H_URI_CRED = 1 << 11; // '://' followed later by '@'

const C_0 = 48;
const C_9 = 57;
const C_A = 65;
const C_Z = 90;
const C_a = 97;
const C_f = 102;
const C_z = 122;

function isWordCode(c: number): boolean {
  return (c >= C_0 && c <= C_9) || (c >= C_A && c <= C_Z) || (c >= C_a && c <= C_z) || c === 95;
}

function isDigitCode(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

/**
 * Looks back from a '=', ':' or quote at index i for a key-like word: up to four spaces or quotes,
 * then the last three letters of the word (lower-cased) among the tails of the secret key names.
 */
function keyBefore(s: string, i: number): boolean {
  let j = i - 1;
  const stop = i - 5;
  while (j >= 0 && j > stop) {
    const c = s.charCodeAt(j);
    if (c !== 32 && c !== 34 && c !== 39) break;
    j--;
  }
  if (j < 2) return false;
  const c3 = s.charCodeAt(j) | 0x20;
  const c2 = s.charCodeAt(j - 1) | 0x20;
  const c1 = s.charCodeAt(j - 2) | 0x20;
  switch (c3) {
    case 100: // d: password, passwd, pwd
      return (c2 === 114 && c1 === 111) || (c2 === 119 && (c1 === 115 || c1 === 112));
    case 116: // t: secret
      return c2 === 101 && c1 === 114;
    case 110: // n: token
      return c2 === 101 && c1 === 107;
    case 121: // y: key; SQL "identified by"
      return (c2 === 101 && c1 === 107) || c2 === 98;
    case 101: // e: passphrase
      return c2 === 115 && c1 === 97;
    default:
      return false;
  }
}

/** Returns the OR of the H_* bits that `s` raises; 0 for a value no built-in detector can match. */
export function scan(s: string): number {
  const n = s.length;
  let h = 0;
  let prev = 0; // previous code unit
  let run = 0; // digits in the current separated-digit run
  let sep = 0; // the separator that run uses (0: none yet)
  let seps = 0; // separators inside the run
  let gap = 0; // a separator right after a digit, awaiting the next digit
  let up = 0; // consecutive upper-case letters
  let upBefore = 0; // upper-case letters right before the current digit run
  let an = 0; // current [A-Z0-9] run
  let colons = 0; // ':' in the current [0-9A-Fa-f:] run
  let scheme = false; // saw '://'
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= C_a && c <= C_z) {
      if (c > C_f) colons = 0;
      up = 0;
      an = 0;
      gap = 0;
    } else if (c >= C_0 && c <= C_9) {
      if (prev < C_0 || prev > C_9) {
        if (gap !== 0) {
          if (sep === 0 || sep === gap) {
            sep = gap;
            seps++;
          } else {
            run = 0;
            sep = gap;
            seps = 1;
          }
          gap = 0;
        } else {
          run = 0;
          sep = 0;
          seps = 0;
          upBefore = up;
        }
      }
      run++;
      an++;
      up = 0;
      if (run === 2 && upBefore >= 2 && isDigitCode(prev)) h |= H_IBAN;
      if (seps >= 2 || run >= 10) {
        if (run >= 13 && sep !== 46) h |= H_CARD;
        if (sep === 45 && run >= 9) h |= H_SSN;
        if (run >= 10 && seps >= 1) h |= H_PHONE;
        if (sep === 46 && seps >= 3) h |= H_IPV4;
      }
    } else if (c >= C_A && c <= C_Z) {
      if (c > 70) colons = 0;
      gap = 0;
      // AKIA / ASIA at the start of an [A-Z0-9] run (the regex requires a non-[A-Z0-9] before it).
      if (c === C_A && an === 3 && s.charCodeAt(i - 1) === 73 && s.charCodeAt(i - 3) === C_A) {
        const k = s.charCodeAt(i - 2);
        if (k === 75 || k === 83) h |= H_TOKEN;
      } else if (c === 74 && prev === 121 && i >= 2 && s.charCodeAt(i - 2) === 101) {
        h |= H_JWT; // eyJ
      } else if (c === 66 && prev === 45 && i >= 5 && s.startsWith('-----', i - 5)) {
        h |= H_PEM;
      }
      up++;
      an++;
    } else {
      an = 0;
      up = 0;
      switch (c) {
        case 32: // ' '
        case 46: // '.'
          colons = 0;
          gap = isDigitCode(prev) ? c : 0;
          break;
        case 45: // '-'
          colons = 0;
          gap = isDigitCode(prev) ? c : 0;
          // xox[abprs]-  (Slack)
          if (i >= 4 && s.charCodeAt(i - 4) === 120 && s.charCodeAt(i - 3) === 111 && s.charCodeAt(i - 2) === 120) {
            h |= H_TOKEN;
          }
          break;
        case 58: // ':'
          gap = 0;
          if (prev === 58) h |= H_IPV6;
          else if (++colons >= 7) h |= H_IPV6;
          if (!isDigitCode(prev)) {
            if (s.charCodeAt(i + 1) === 47 && s.charCodeAt(i + 2) === 47) scheme = true;
            else if (keyBefore(s, i)) h |= H_ASSIGN;
          }
          break;
        case 61: // '='
        case 39: // "'"
        case 34: // '"'
          colons = 0;
          gap = 0;
          if (keyBefore(s, i)) h |= H_ASSIGN;
          break;
        case 64: // '@'
          colons = 0;
          gap = 0;
          h |= H_EMAIL;
          if (scheme) h |= H_URI_CRED;
          break;
        case 95: // '_': gh[pousr]_ and github_pat_
          colons = 0;
          gap = 0;
          if (i >= 3 && s.charCodeAt(i - 3) === 103 && s.charCodeAt(i - 2) === 104) h |= H_TOKEN;
          else if (prev === 116 && i >= 4 && s.startsWith('_pat', i - 4)) h |= H_TOKEN;
          break;
        case 43: // '+'
        case 40: // '('
          colons = 0;
          gap = 0;
          if (isDigitCode(s.charCodeAt(i + 1)) && !isWordCode(prev)) h |= H_PHONE;
          break;
        default:
          colons = 0;
          gap = 0;
      }
    }
    prev = c;
  }
  return h;
}
