/**
 * Pre-filter: one pass over the UTF-16 code units of a value that raises a bit per detector family
 * worth running. Most result values (ids, timestamps, prices, words) raise nothing, so the engine can
 * return them untouched without running a single regex. Every bit is a necessary condition for its
 * detector's regex to match, so the pass never hides a match; it may raise bits spuriously.
 *
 * The main loop only looks up each code unit in a table; letters, spaces and most punctuation are
 * "boring" and cost one load. Digit runs are parsed by a sub-scan that jumps past them.
 */

export const H_EMAIL = 1 << 0; // '@'
export const H_CARD = 1 << 1; // ≥ 13 digits, optionally split by one consistent ' ' or '-'
export const H_SSN = 1 << 2; // ≥ 9 digits split by '-' at least twice
export const H_PHONE = 1 << 3; // '+' or '(' then a digit at a word start, or ≥ 10 separated digits not shaped like an IP
export const H_IBAN = 1 << 4; // two capitals at a word start, then two digits
export const H_IPV4 = 1 << 5; // four digit groups joined by '.'
export const H_IPV6 = 1 << 6; // '::', or ≥ 7 ':' in one hex/colon run
export const H_JWT = 1 << 7; // 'eyJ' (base64url of '{"')
export const H_PEM = 1 << 8; // '-----B'
export const H_TOKEN = 1 << 9; // 'AKIA'/'ASIA', 'gh?_', 'github_pat_', 'xox?-'
export const H_ASSIGN = 1 << 10; // '=', ':' or a quote after a key-like word (…word, …wd, …ret, …ken, …key, …ase, by)
export const H_URI_CRED = 1 << 11; // '://' followed later by '@'
export const H_HTTP_AUTH = 1 << 12; // 'Bearer ' or 'Basic '

// Table classes for code units < 128; 0 is "nothing to do".
const K_DIGIT = 1;
const K_A = 2;
const K_J = 3;
const K_B = 4;
const K_COLON = 5;
const K_ASSIGN = 6; // '=', "'", '"'
const K_AT = 7;
const K_UNDERSCORE = 8;
const K_DASH = 9;
const K_PLUS_PAREN = 10; // '+', '('

const TABLE = new Uint8Array(128);
for (let c = 48; c <= 57; c++) TABLE[c] = K_DIGIT;
TABLE[65] = K_A;
TABLE[74] = K_J;
TABLE[66] = K_B;
TABLE[58] = K_COLON;
TABLE[61] = K_ASSIGN;
TABLE[39] = K_ASSIGN;
TABLE[34] = K_ASSIGN;
TABLE[64] = K_AT;
TABLE[95] = K_UNDERSCORE;
TABLE[45] = K_DASH;
TABLE[43] = K_PLUS_PAREN;
TABLE[40] = K_PLUS_PAREN;

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isUpperCode(c: number): boolean {
  return c >= 65 && c <= 90;
}

function isLetterCode(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isWordCode(c: number): boolean {
  return isDigitCode(c) || isLetterCode(c) || c === 95;
}

function isHexOrColon(c: number): boolean {
  return isDigitCode(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 58;
}

/**
 * Looks back from a '=', ':' or quote at index i for a key-like word: up to four spaces, tabs or quotes,
 * then the last three letters of the word (lower-cased) among the tails of the secret key names.
 */
function keyBefore(s: string, i: number): boolean {
  let j = i - 1;
  const stop = i - 5;
  while (j >= 0 && j > stop) {
    const c = s.charCodeAt(j);
    if (c !== 32 && c !== 9 && c !== 34 && c !== 39) break;
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

/**
 * Parses the run of digit groups starting at `start` (joined by single ' ', '-' or '.') and returns
 * the bits it raises. Every digit-run regex (card, SSN, phone, IPv4) refuses to start right after a
 * word character, '.' or '-', so a run starting there counts only from a later group after a space.
 */
function digitRun(s: string, start: number): number {
  const n = s.length;
  let h = 0;
  const prev = start > 0 ? s.charCodeAt(start - 1) : 0;
  // IBAN: exactly two capitals at a word start, then two digits.
  if (
    start >= 2 &&
    isUpperCode(prev) &&
    isUpperCode(s.charCodeAt(start - 2)) &&
    isDigitCode(s.charCodeAt(start + 1)) &&
    (start < 3 || !isWordCode(s.charCodeAt(start - 3)))
  ) {
    h |= H_IBAN;
  }
  const startValid = !(isWordCode(prev) || prev === 46 || prev === 45);
  // IPv4 also refuses "Product/1.2.3.4" (a version token).
  const startIpOk = startValid && !(prev === 47 && start >= 2 && isLetterCode(s.charCodeAt(start - 2)));
  let valid = startValid;
  let ipOk = startIpOk;
  let groupOk = startValid; // a match may start at the current group (run start, or after a space)
  let run = 0; // digits since the candidate run started
  let sep = 0; // the separator of the run (0: none yet)
  let seps = 0;
  let big = false; // a group of ≥ 4 digits (IPv4 octets never have one)
  let i = start;
  for (;;) {
    const groupStart = i;
    while (i < n && isDigitCode(s.charCodeAt(i))) i++;
    const group = i - groupStart;
    run += group;
    if (group >= 4) big = true;
    if (valid && (seps >= 2 || run >= 10)) {
      if (run >= 13 && sep !== 46) h |= H_CARD;
      if (sep === 45 && seps >= 2 && run >= 9) h |= H_SSN;
      if (run >= 10 && seps >= 1 && (sep !== 46 || big || seps >= 4)) h |= H_PHONE;
      if (sep === 46 && seps >= 3 && ipOk) h |= H_IPV4;
    }
    const c = i < n ? s.charCodeAt(i) : 0;
    if ((c !== 32 && c !== 45 && c !== 46) || i + 1 >= n || !isDigitCode(s.charCodeAt(i + 1))) break;
    if (valid && (sep === 0 || sep === c)) {
      sep = c;
      seps++;
    } else if (groupOk) {
      // The separator changes: a new candidate starts at this group ("0 123-45-6789").
      if (groupStart !== start) ipOk = true;
      valid = true;
      run = group;
      sep = c;
      seps = 1;
      big = group >= 4;
    } else if (c === 32) {
      // A candidate may start after a space: count afresh from the next group.
      valid = true;
      ipOk = true;
      run = 0;
      sep = 0;
      seps = 0;
      big = false;
    } else {
      valid = false; // after '-' or '.' nothing can start
    }
    groupOk = c === 32;
    i++;
  }
  return h;
}

/** Whether some run of [0-9A-Fa-f:] holds ≥ 7 colons (a full eight-group IPv6 address). */
function longColonRun(s: string): boolean {
  let colons = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) {
      if (++colons >= 7) return true;
    } else if (!isHexOrColon(c)) colons = 0;
  }
  return false;
}

/** Second-stage checks for the less common special code units (the first stage is inline in scan()). */
function special(s: string, i: number, k: number): number {
  switch (k) {
    case K_A: // AKIA / ASIA (long-term / temporary AWS access key ids); s[i-1] is 'I'
      if (i >= 3 && s.charCodeAt(i - 3) === 65) {
        const k2 = s.charCodeAt(i - 2);
        if (k2 === 75 || k2 === 83) return H_TOKEN;
      }
      return 0;
    case K_J: // eyJ; s[i-1] is 'y'
      return i >= 2 && s.charCodeAt(i - 2) === 101 ? H_JWT : 0;
    case K_B: // -----BEGIN (s[i-1] is '-'), or an HTTP auth scheme (s[i+1] is 'e' or 'a')
      if (s.charCodeAt(i - 1) === 45) return i >= 5 && s.startsWith('-----', i - 5) ? H_PEM : 0;
      return s.startsWith('Bearer ', i) || s.startsWith('Basic ', i) ? H_HTTP_AUTH : 0;
    case K_COLON: {
      // s[i-1] is not a digit, or s[i+1] is ':'
      const h = s.charCodeAt(i + 1) === 58 ? H_IPV6 : 0;
      if (i === 0 || isDigitCode(s.charCodeAt(i - 1))) return h;
      return h | (s.charCodeAt(i + 1) === 47 && s.charCodeAt(i + 2) === 47 ? H_SCHEME : 0) | (keyBefore(s, i) ? H_ASSIGN : 0);
    }
    case K_ASSIGN:
      return keyBefore(s, i) ? H_ASSIGN : 0;
    case K_UNDERSCORE: // gh[pousr]_ and github_pat_
      if (i >= 3 && s.charCodeAt(i - 3) === 103 && s.charCodeAt(i - 2) === 104) return H_TOKEN;
      return i >= 4 && s.charCodeAt(i - 1) === 116 && s.startsWith('_pat', i - 4) ? H_TOKEN : 0;
    case K_DASH: // xox[abprs]- (Slack); s[i-2] is 'x'
      return i >= 4 && s.charCodeAt(i - 4) === 120 && s.charCodeAt(i - 3) === 111 ? H_TOKEN : 0;
    default:
      return 0;
  }
}

/** Internal: '://' seen; turned into H_URI_CRED by a later '@'. Not a detector bit. */
const H_SCHEME = 1 << 30;

/** Returns the OR of the H_* bits that `s` raises; 0 for a value no built-in detector can match. */
export function scan(s: string): number {
  const n = s.length;
  let h = 0;
  let colons = 0;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    const k = c < 128 ? TABLE[c] : 0;
    if (k === 0) {
      i++;
      continue;
    }
    const p = i > 0 ? s.charCodeAt(i - 1) : 0;
    if (k === K_DIGIT) {
      // Walk the run of digit groups joined by single ' ', '-' or '.'. Card, SSN and phone numbers need
      // ≥ 9 digits joined by one kind of separator, IPv4 four groups, and none can start right after a
      // word character, '.' or '-' (their regexes' look-behinds); digitRun() does the exact parse for
      // the few runs that pass. Ids, prices, dates and times are skipped here.
      const startOk = !(p === 46 || p === 45 || isWordCode(p));
      let ok = startOk;
      let groupOk = startOk;
      let need = false;
      let digits = 0;
      let groups = 0;
      let sep = 0;
      let j = i;
      for (;;) {
        const g = j;
        for (; j < n; j++) {
          const d = s.charCodeAt(j);
          if (d < 48 || d > 57) break;
        }
        digits += j - g;
        if (ok && (++groups >= 4 || digits >= 9)) need = true;
        if (j + 1 >= n) break;
        const a = s.charCodeAt(j);
        if (a !== 32 && a !== 45 && a !== 46) break;
        const b = s.charCodeAt(j + 1);
        if (b < 48 || b > 57) break;
        if (ok && (sep === 0 || sep === a)) sep = a;
        else if (groupOk) {
          ok = true; // restart at this group, as digitRun() does
          digits = j - g;
          groups = 1;
          sep = a;
        } else if (a === 32) {
          ok = true;
          digits = 0;
          groups = 0;
          sep = 0;
        } else ok = false;
        groupOk = a === 32;
        j++;
      }
      if (need || (p >= 65 && p <= 90)) h |= digitRun(s, i);
      i = j;
      continue;
    }
    switch (k) {
      case K_A:
        if (p === 73) h |= special(s, i, k);
        break;
      case K_J:
        if (p === 121) h |= special(s, i, k);
        break;
      case K_B: {
        const q = s.charCodeAt(i + 1);
        if (p === 45 || q === 101 || q === 97) h |= special(s, i, k);
        break;
      }
      case K_COLON:
        colons++;
        if (p < 48 || p > 57 || s.charCodeAt(i + 1) === 58) h |= special(s, i, k);
        break;
      case K_AT:
        h |= H_EMAIL;
        if ((h & H_SCHEME) !== 0) h |= H_URI_CRED;
        break;
      case K_DASH:
        if (i >= 4 && s.charCodeAt(i - 2) === 120) h |= special(s, i, k);
        break;
      case K_PLUS_PAREN:
        if (i + 1 < n && !isWordCode(p)) {
          const d = s.charCodeAt(i + 1);
          if (d >= 48 && d <= 57) h |= H_PHONE;
        }
        break;
      default: // K_ASSIGN, K_UNDERSCORE
        h |= special(s, i, k);
    }
    i++;
  }
  if (colons >= 7 && (h & H_IPV6) === 0 && longColonRun(s)) h |= H_IPV6;
  return h & ~H_SCHEME;
}
