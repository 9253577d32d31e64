import { describe, expect, it } from 'vitest';
import { isCardNumber, knownIin } from '../detectors/credit-card.ts';
import { ibanChecksumValid, isIban } from '../detectors/iban.ts';
import { luhnValid } from '../detectors/luhn.ts';
import { isPhone } from '../detectors/phone.ts';
import { isSsn } from '../detectors/ssn.ts';
import { found } from './helpers.ts';

describe('email', () => {
  it.each([
    ['write to bob.smith@example.com today', 'bob.smith@example.com'],
    ['<support+billing@mail.example.co.uk>', 'support+billing@mail.example.co.uk'],
    ['{"e":"X_Y@EXAMPLE.ORG"}', 'X_Y@EXAMPLE.ORG'],
    ['end of sentence ann@example.dev.', 'ann@example.dev'],
  ])('finds the address in %j', (text, address) => {
    expect(found(text)).toEqual([`email:${address}`]);
  });

  it.each(['user@localhost', 'logo@2x.png', 'lodash@4.17.21', '@handle', 'a..b@example.com', '[EMAIL]@example.com'])(
    'ignores %j',
    (text) => expect(found(text)).toEqual([]),
  );

  it('leaves a URI password to the secret detector', () => {
    expect(found('postgres://app:pw@db.example.com/x')).toEqual(['secret:pw']);
  });
});

describe('credit_card', () => {
  it('implements Luhn', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('79927398713')).toBe(true);
  });

  it('knows issuer prefixes and lengths', () => {
    expect(knownIin('4111111111111111')).toBe(true); // Visa
    expect(knownIin('2223003122003222')).toBe(true); // Mastercard 2-series
    expect(knownIin('378282246310005')).toBe(true); // Amex, 15
    expect(knownIin('3782822463100050')).toBe(false); // Amex prefix, wrong length
    expect(knownIin('9111111111111111')).toBe(false);
    expect(knownIin('0000000000000000')).toBe(false);
  });

  it.each([
    ['4111111111111111', '4111111111111111'],
    ['card 4111 1111 1111 1111 exp 12/26', '4111 1111 1111 1111'],
    ['5555-5555-5555-4444', '5555-5555-5555-4444'],
    ['amex 3782 822463 10005', '3782 822463 10005'],
    ['pan=6011000990139424;', '6011000990139424'],
    ['4111111111111111.00', '4111111111111111'],
    ['(4111111111111111,7)', '4111111111111111'],
    ['7,4111111111111111', '4111111111111111'],
  ])('finds the card in %j', (text, card) => {
    expect(found(text)).toEqual([`credit_card:${card}`]);
  });

  it.each([
    ['{4111111111111111,5555555555554444}', ['4111111111111111', '5555555555554444']], // array_agg(card)
    ['4111111111111111,5555555555554444,378282246310005', ['4111111111111111', '5555555555554444', '378282246310005']], // CSV
    ['"4111 1111 1111 1111","5555-5555-5555-4444"', ['4111 1111 1111 1111', '5555-5555-5555-4444']],
  ])('finds every card of the list %j', (text, cards) => {
    expect(found(text)).toEqual(cards.map((c) => `credit_card:${c}`));
  });

  it.each([
    'order 4111111111111112', // Luhn fails
    'id 1234567890123456', // no issuer
    '4111 1111 1111 1111 2222', // grouping continues
    '24933208-5222-4866-a5d0-fc2272151e45', // UUID that passes Luhn with a Mastercard prefix
    '4111-1111 1111-1111', // mixed separators
    '411 11111 1111 1111', // not a printed grouping
    'x4111111111111111', // glued to a word
    '1.4111111111111111',
  ])('ignores %j', (text) => expect(found(text)).toEqual([]));

  it('validates whole strings', () => {
    expect(isCardNumber('4242 4242 4242 4242')).toBe(true);
    expect(isCardNumber('4242 4242 4242 4241')).toBe(false);
  });
});

describe('ssn', () => {
  it('applies the SSA exclusions', () => {
    expect(isSsn('123', '45', '6789')).toBe(true);
    expect(isSsn('000', '45', '6789')).toBe(false);
    expect(isSsn('666', '45', '6789')).toBe(false);
    expect(isSsn('900', '45', '6789')).toBe(false);
    expect(isSsn('999', '45', '6789')).toBe(false);
    expect(isSsn('123', '00', '6789')).toBe(false);
    expect(isSsn('123', '45', '0000')).toBe(false);
  });

  it('finds dashed SSNs', () => {
    expect(found('SSN: 123-45-6789.')).toEqual(['ssn:123-45-6789']);
    expect(found('a 001-01-0001 b 772-11-4321')).toEqual(['ssn:001-01-0001', 'ssn:772-11-4321']);
  });

  it.each(['666-12-3456', '912-34-5678', '123-00-4567', '123-45-0000', '123-45-67890', 'SKU-123-45-6789', '123456789', '2024-01-15'])(
    'ignores %j',
    (text) => expect(found(text)).toEqual([]),
  );
});

describe('iban', () => {
  it('checks ISO 7064 mod 97-10', () => {
    expect(ibanChecksumValid('GB82WEST12345698765432')).toBe(true);
    expect(ibanChecksumValid('GB82WEST12345698765433')).toBe(false);
    expect(isIban('DE89 3704 0044 0532 0130 00')).toBe(true);
    expect(isIban('DE89 3704 0044 0532 0130 0')).toBe(false); // length for DE is 22
    expect(isIban('XX89370400440532013000')).toBe(false); // unknown country
  });

  it.each([
    ['IBAN DE89370400440532013000', 'DE89370400440532013000'],
    ['DE89 3704 0044 0532 0130 00 (bank)', 'DE89 3704 0044 0532 0130 00'],
    ['NO9386011117947', 'NO9386011117947'],
    ['to FR1420041010050500013M02606.', 'FR1420041010050500013M02606'],
    ['DE89 3704 0044 0532 0130 00 ABCD', 'DE89 3704 0044 0532 0130 00'],
  ])('finds the IBAN in %j', (text, iban) => {
    expect(found(text)).toEqual([`iban:${iban}`]);
  });

  it.each(['DE89370400440532013001', 'DE00370400440532013000', 'NL91ABNA041716430', 'ZZ12345678901234567890', 'model AB12 CDEF 3456'])(
    'ignores %j',
    (text) => expect(found(text)).toEqual([]),
  );
});

describe('phone', () => {
  it.each([
    '+1 415 555 0100',
    '+14155550100',
    '(415) 555-0100',
    '415-555-0100',
    '415.555.0100',
    '1-800-555-0199',
    '+44 (0)20 7946 0958',
    '020 7946 0958',
    '07700 900123',
    '01 23 45 67 89',
    '+33 1 23 45 67 89',
    '+81 3-1234-5678',
  ])('accepts %j', (text) => {
    expect(isPhone(text)).toBe(true);
    expect(found(`tel ${text} ok`)).toEqual([`phone:${text}`]);
  });

  it.each([
    '2024-01-15',
    '15/01/2024',
    '15.01.2024',
    '12:30:45',
    '1.2.3.4.5',
    'v10.0.19045',
    '4155550100',
    'ORD-415-555-0100',
    '#2024-000123',
    '123-456-7890', // NANP area codes never start with 0 or 1
    '2024-01-15 10:30:00+00',
    '10 20 30 40 50 60',
    '978-0-306-40615-7',
    '3+4155550100',
    '+2024-01-15',
  ])('rejects %j', (text) => expect(found(text).filter((f) => f.startsWith('phone'))).toEqual([]));

  it('drops trailing groups that are not part of the number', () => {
    expect(found('call 020 7946 0958 2 times')).toEqual(['phone:020 7946 0958']);
  });
});

describe('values in lists (array_agg, CSV, row values)', () => {
  it.each([
    ['{+12025550100,+12025550101}', ['phone:+12025550100', 'phone:+12025550101']],
    ['{123-45-6789,234-56-7890}', ['ssn:123-45-6789', 'ssn:234-56-7890']],
    ['{10.0.0.1,10.0.0.2}', ['ipv4:10.0.0.1', 'ipv4:10.0.0.2']],
    ['{DE89370400440532013000,GB82WEST12345698765432}', ['iban:DE89370400440532013000', 'iban:GB82WEST12345698765432']],
    ['{a@example.com,b@example.org}', ['email:a@example.com', 'email:b@example.org']],
    ['(1,4111111111111111,5555555555554444)', ['credit_card:4111111111111111', 'credit_card:5555555555554444']],
  ])('finds each value of %j', (text, spans) => expect(found(text)).toEqual(spans));
});
