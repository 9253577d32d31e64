/**
 * Column-name rules: a column whose name says it holds a credential or identifier is masked whole,
 * whatever its content (a password column of 'hunter2' has nothing a content detector would catch).
 *
 * Rule syntax, one string per rule:
 *   - `word` or `two_words`: matches a column whose name ends with those words, split on '_', '-', '.',
 *     spaces and camelCase ("password" matches password, user_password, userPassword, db.password;
 *     "api_key" matches api_key, apiKey, apikey, stripe_api_key). A trailing qualifier word is allowed
 *     (password_hash, card_number_encrypted, ssn_last4). Words elsewhere do not match, so
 *     "password_reset_at" or "token_count" stay visible.
 *   - a glob with '*' (`*_secret`, `pin*`): matched against the whole lower-cased column name.
 *   - either form may end with `=kind` to choose the mask kind (`salary=secret`, `dob*=dob`).
 * Without `=kind` the kind comes from KIND_BY_RULE, else it is 'secret'.
 */

export const DEFAULT_COLUMN_RULES: readonly string[] = Object.freeze([
  'password',
  'passwd',
  'secret',
  'token',
  'api_key',
  'ssn',
  'card_number',
  'credit_card',
  'cc_number',
  'iban',
]);

const KIND_BY_RULE: Readonly<Record<string, string>> = {
  password: 'secret',
  passwd: 'secret',
  secret: 'secret',
  token: 'secret',
  api_key: 'secret',
  ssn: 'ssn',
  card_number: 'credit_card',
  credit_card: 'credit_card',
  cc_number: 'credit_card',
  iban: 'iban',
  email: 'email',
  phone: 'phone',
  first_name: 'name',
  last_name: 'name',
  full_name: 'name',
};

/** Words that may follow the rule's words and still mean "this is that value". */
const QUALIFIERS = new Set([
  'hash', 'hashed', 'digest', 'enc', 'encrypted', 'cipher', 'ciphertext', 'plain', 'plaintext', 'raw', 'value',
  'number', 'num', 'no', 'nr', 'last4', 'full', 'text', 'str',
]);

/** Person-name columns (kind 'name'): `name` alone or these words before `name`, or the joined forms. */
const NAME_QUALIFIERS = new Set([
  'first', 'last', 'full', 'middle', 'given', 'family', 'maiden', 'legal', 'preferred', 'display', 'person',
  'customer', 'contact', 'patient', 'employee', 'holder', 'cardholder', 'recipient', 'sender', 'owner', 'billing',
  'shipping', 'real', 'birth',
]);
const NAME_WORDS = new Set(['firstname', 'lastname', 'fullname', 'surname', 'forename', 'givenname', 'familyname', 'middlename', 'cardholder']);

const KIND_RE = /^[a-z][a-z0-9_]{0,31}$/;
const WORD_RULE_RE = /^[a-z0-9]+(?:[_\-. ][a-z0-9]+)*$/;

/** Lower-case words of an identifier: "userAPIKey_v2" → ["user", "api", "key", "v2"]. */
export function columnWords(column: string): string[] {
  return column
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
}

interface CompiledRule {
  readonly kind: string;
  matches(words: readonly string[], lower: string): boolean;
}

function globRule(glob: string, kind: string): CompiledRule {
  const source = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`);
  return { kind, matches: (_words, lower) => re.test(lower) };
}

/** True when `words` ends with `target` (joined words compared too: api_key ~ apikey), then ≤ 1 qualifier. */
function endsWithWords(words: readonly string[], target: readonly string[]): boolean {
  const joined = target.join('');
  for (let tail = 0; tail <= 1 && tail < words.length; tail++) {
    if (tail === 1 && !QUALIFIERS.has(words[words.length - 1])) break;
    const end = words.length - tail;
    if (end >= target.length && target.every((t, k) => words[end - target.length + k] === t)) return true;
    // Concatenated forms: the last word(s) before `end` joined equal the rule joined.
    let acc = '';
    for (let k = end - 1; k >= 0 && acc.length < joined.length; k--) {
      acc = words[k] + acc;
      if (acc === joined) return true;
    }
  }
  return false;
}

function wordRule(rule: string, kind: string): CompiledRule {
  const target = rule.split(/[_\-. ]+/);
  return { kind, matches: (words) => endsWithWords(words, target) };
}

export function compileColumnRule(raw: string): CompiledRule {
  if (typeof raw !== 'string') throw new Error(`mask: column rule ${JSON.stringify(raw)} must be a string`);
  const eq = raw.lastIndexOf('=');
  const pattern = (eq === -1 ? raw : raw.slice(0, eq)).trim().toLowerCase();
  const explicitKind = eq === -1 ? undefined : raw.slice(eq + 1).trim();
  if (explicitKind !== undefined && !KIND_RE.test(explicitKind)) {
    throw new Error(`mask: column rule '${raw}': kind '${explicitKind}' must match ${KIND_RE.source}`);
  }
  if (pattern === '' || pattern.replaceAll('*', '') === '') {
    throw new Error(`mask: column rule '${raw}' is empty or would match every column`);
  }
  const alias = pattern.replace(/[\-. ]/g, '_');
  const kind = explicitKind ?? (Object.hasOwn(KIND_BY_RULE, alias) ? KIND_BY_RULE[alias] : 'secret');
  if (pattern.includes('*')) return globRule(pattern, kind);
  if (!WORD_RULE_RE.test(pattern)) {
    throw new Error(`mask: column rule '${raw}' must be words joined by '_' (or a glob with '*')`);
  }
  return wordRule(pattern, kind);
}

export function isPersonNameColumn(words: readonly string[]): boolean {
  const n = words.length;
  if (n === 0) return false;
  const last = words[n - 1];
  if (NAME_WORDS.has(last)) return true;
  if (last !== 'name' && last !== 'names') return false;
  return n === 1 || NAME_QUALIFIERS.has(words[n - 2]);
}

/** Resolves a column name to the kind its whole value is masked as, or undefined. */
export function compileColumnRules(rules: readonly string[], personNames: boolean): (column: string) => string | undefined {
  const compiled = rules.map(compileColumnRule);
  return (column) => {
    const words = columnWords(column);
    const lower = column.toLowerCase();
    for (const rule of compiled) if (rule.matches(words, lower)) return rule.kind;
    if (personNames && isPersonNameColumn(words)) return 'name';
    return undefined;
  };
}
