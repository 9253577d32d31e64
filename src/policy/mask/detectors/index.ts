import type { Detector } from '../types.ts';
import { creditCardDetectors } from './credit-card.ts';
import { emailDetectors } from './email.ts';
import { ibanDetectors } from './iban.ts';
import { ipv4Detectors } from './ipv4.ts';
import { ipv6Detectors } from './ipv6.ts';
import { jwtDetectors } from './jwt.ts';
import { phoneDetectors } from './phone.ts';
import { privateKeyDetectors } from './private-key.ts';
import { secretDetectors } from './secret.ts';
import { ssnDetectors } from './ssn.ts';

/** Every built-in kind; 'name' has no content detector (column rules only). */
export const BUILTIN_KINDS = [
  'email',
  'credit_card',
  'ssn',
  'iban',
  'phone',
  'ipv4',
  'ipv6',
  'jwt',
  'private_key',
  'secret',
  'name',
] as const;

/** Content detectors, in the order the engine runs them. */
export const BUILTIN_DETECTORS: readonly Detector[] = [
  ...privateKeyDetectors,
  ...jwtDetectors,
  ...secretDetectors,
  ...emailDetectors,
  ...ibanDetectors,
  ...creditCardDetectors,
  ...ssnDetectors,
  ...phoneDetectors,
  ...ipv6Detectors,
  ...ipv4Detectors,
];
