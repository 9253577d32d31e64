import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BUILTIN_KINDS, compileMasker, DEFAULT_COLUMN_RULES, type MaskCounts } from '../index.ts';

const KEY = Buffer.from('session-key-one');

describe('compileMasker options', () => {
  it("expands 'all' to every built-in kind", () => {
    const m = compileMasker({ kinds: ['all'] });
    expect(m.maskText('a@example.com 10.0.0.1')).toBe('[EMAIL] [IPV4]');
    expect(BUILTIN_KINDS).toContain('name');
  });

  it('runs only the enabled kinds', () => {
    const m = compileMasker({ kinds: ['email'] });
    expect(m.maskText('a@example.com 10.0.0.1 4111111111111111')).toBe('[EMAIL] 10.0.0.1 4111111111111111');
  });

  it.each([
    [{ kinds: ['emails'] }, /unknown kind "emails"/],
    [{ kinds: 'all' as unknown as string[] }, /'kinds' must be an array/],
    [{ kinds: ['all'], strategy: 'scramble' as 'redact' }, /unknown strategy "scramble"/],
    [{ kinds: ['all'], strategy: 'hash' as const }, /needs a non-empty sessionKey/],
    [{ kinds: ['all'], columnRules: ['*'] }, /would match every column/],
    [{ kinds: ['all'], columnRules: ['pass word!'] }, /must be words joined by '_'/],
    [{ kinds: ['all'], columnRules: ['salary=Bad Kind'] }, /kind 'Bad Kind'/],
    [{ kinds: ['all'], custom: [{ name: 'email', pattern: 'x' }] }, /'email' is already taken/],
    [{ kinds: ['all'], custom: [{ name: 'Emp ID', pattern: 'x' }] }, /name "Emp ID" must match/],
    [{ kinds: ['all'], custom: [{ name: 'emp', pattern: '' }] }, /needs a non-empty pattern/],
    [{ kinds: ['all'], custom: [{ name: 'emp', pattern: 'x' }, { name: 'emp', pattern: 'y' }] }, /'emp' is already taken/],
  ])('rejects %j', (options, message) => {
    expect(() => compileMasker(options)).toThrow(message);
  });

  it('returns the same string instance when nothing matched', () => {
    const m = compileMasker({ kinds: ['all'] });
    for (const clean of ['2024-01-15 10:30:00+00', 'order 12345 shipped', 'the password is wrong', '', '1.99']) {
      expect(m.maskText(clean)).toBe(clean);
      expect(m.maskValue('notes', clean)).toBe(clean);
    }
  });

  it('accumulates counts per kind into the caller object', () => {
    const m = compileMasker({ kinds: ['all'] });
    const counts: MaskCounts = { email: 2 };
    m.maskText('a@example.com, b@example.com, 10.0.0.1', counts);
    m.maskValue('password', 'hunter2', counts);
    m.maskValue('first_name', 'Ann', counts);
    expect(counts).toEqual({ email: 4, ipv4: 1, secret: 1, name: 1 });
  });

  it('merges overlapping detections so nothing leaks beside the mask', () => {
    const m = compileMasker({ kinds: ['all'] });
    expect(m.maskText('password=bob@example.com')).toBe('password=[SECRET]');
    expect(m.maskText('token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.')).toBe('token=[JWT]');
  });
});

describe('strategies', () => {
  const text = 'mail a@example.com, card 4111 1111 1111 1111, ssn 123-45-6789';

  it('redact replaces with the kind label', () => {
    expect(compileMasker({ kinds: ['all'] }).maskText(text)).toBe('mail [EMAIL], card [CREDIT_CARD], ssn [SSN]');
  });

  it('partial keeps the last four card digits and the email domain', () => {
    const m = compileMasker({ kinds: ['all'], strategy: 'partial' });
    expect(m.maskText(text)).toBe('mail [EMAIL]@example.com, card [CREDIT_CARD ****1111], ssn [SSN]');
    expect(m.maskValue('card_number', '5555-5555-5555-4444')).toBe('[CREDIT_CARD ****4444]');
    expect(m.maskValue('cc_number', '12')).toBe('[CREDIT_CARD]'); // too short to show a tail
  });

  it('hash is HMAC-SHA256(sessionKey, value), first 8 hex digits', () => {
    const m = compileMasker({ kinds: ['all'], strategy: 'hash', sessionKey: KEY });
    const expected = createHmac('sha256', KEY).update('a@example.com').digest('hex').slice(0, 8);
    expect(m.maskText('to a@example.com')).toBe(`to [EMAIL:${expected}]`);
  });

  it('hash is deterministic within a session and differs across session keys', () => {
    const a1 = compileMasker({ kinds: ['all'], strategy: 'hash', sessionKey: KEY });
    const a2 = compileMasker({ kinds: ['all'], strategy: 'hash', sessionKey: Buffer.from('session-key-one') });
    const b = compileMasker({ kinds: ['all'], strategy: 'hash', sessionKey: Buffer.from('session-key-two') });
    const first = a1.maskText(text);
    expect(a1.maskText(text)).toBe(first);
    expect(a2.maskText(text)).toBe(first);
    expect(b.maskText(text)).not.toBe(first);
    expect(first).toMatch(/^mail \[EMAIL:[0-9a-f]{8}\], card \[CREDIT_CARD:[0-9a-f]{8}\], ssn \[SSN:[0-9a-f]{8}\]$/);
    // Equal values get equal tokens, different values different ones.
    const twice = a1.maskText('x@example.com y@example.com x@example.com').split(' ');
    expect(twice[0]).toBe(twice[2]);
    expect(twice[0]).not.toBe(twice[1]);
    expect(a1.maskValue('password', 'hunter2')).toBe(a1.maskValue('user_password', 'hunter2'));
  });

  it('hash copies the key: later changes by the caller do not change tokens', () => {
    const key = Buffer.from('mutable-key');
    const m = compileMasker({ kinds: ['email'], strategy: 'hash', sessionKey: key });
    const before = m.maskText('a@example.com');
    key.fill(0);
    expect(m.maskText('a@example.com')).toBe(before);
  });
});

describe('column rules', () => {
  const m = compileMasker({ kinds: ['all'] });

  it.each([
    ['password', 'secret'],
    ['user_password', 'secret'],
    ['userPassword', 'secret'],
    ['PASSWORD_HASH', 'secret'],
    ['passwd', 'secret'],
    ['client_secret', 'secret'],
    ['access_token', 'secret'],
    ['api_key', 'secret'],
    ['apiKey', 'secret'],
    ['stripe_apikey', 'secret'],
    ['ssn', 'ssn'],
    ['customer_ssn', 'ssn'],
    ['card_number', 'credit_card'],
    ['cardNumber', 'credit_card'],
    ['credit_card', 'credit_card'],
    ['cc_number', 'credit_card'],
    ['iban', 'iban'],
    ['account_iban', 'iban'],
    ['name', 'name'],
    ['first_name', 'name'],
    ['lastName', 'name'],
    ['full_name', 'name'],
    ['surname', 'name'],
    ['customer_name', 'name'],
  ])('%s → %s', (column, kind) => expect(m.columnKind(column)).toBe(kind));

  it.each(['id', 'password_reset_at', 'token_count', 'lesson', 'username', 'table_name', 'product_name', 'secretary', 'email', 'created_at', 'constructor'])(
    '%s is not masked whole',
    (column) => expect(m.columnKind(column)).toBeUndefined(),
  );

  it('masks the whole value regardless of content, before any detector', () => {
    expect(m.maskValue('password', 'hunter2')).toBe('[SECRET]');
    expect(m.maskValue('first_name', 'Ann')).toBe('[NAME]');
    expect(m.maskValue('iban', 'not even an iban')).toBe('[IBAN]');
    expect(m.maskValue('notes', 'mail a@example.com')).toBe('mail [EMAIL]');
  });

  it('leaves an already masked column value alone', () => {
    const counts: MaskCounts = {};
    for (const token of ['[SECRET]', '[SECRET:1f3a9c2b]', '[CREDIT_CARD ****1111]', '[EMAIL]@example.com']) {
      expect(m.maskValue('password', token, counts)).toBe(token);
    }
    expect(counts).toEqual({});
    expect(m.maskValue('password', '[not a token]')).toBe('[SECRET]');
  });

  it("masks person-name columns only when 'name' is enabled", () => {
    const noNames = compileMasker({ kinds: ['email'] });
    expect(noNames.columnKind('first_name')).toBeUndefined();
    expect(noNames.maskValue('first_name', 'Ann')).toBe('Ann');
    expect(noNames.maskValue('password', 'x')).toBe('[SECRET]');
  });

  it('accepts a custom list, globs and explicit kinds', () => {
    const c = compileMasker({ kinds: ['all'], columnRules: ['salary', '*_pin', 'dob*=dob', 'phone', 'constructor'] });
    expect(c.columnKind('constructor')).toBe('secret');
    expect(c.columnKind('base_salary')).toBe('secret');
    expect(c.columnKind('atm_pin')).toBe('secret');
    expect(c.columnKind('dob_verified')).toBe('dob');
    expect(c.columnKind('mobile_phone')).toBe('phone');
    expect(c.columnKind('password')).toBeUndefined(); // the defaults are replaced
    expect(c.maskValue('dob', '1990-01-01')).toBe('[DOB]');
    const extended = compileMasker({ kinds: ['all'], columnRules: [...DEFAULT_COLUMN_RULES, 'salary'] });
    expect(extended.columnKind('password')).toBe('secret');
  });
});
