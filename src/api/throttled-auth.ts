import { setTimeout as delay } from 'node:timers/promises';
import type { Identity } from '../core/identity.ts';
import { CONTROL_PLANE } from '../identity/tokens.ts';
import { sourceOf } from '../protocols/common/pre-auth.ts';
import type { ApiContext } from './context.ts';

/**
 * Checks a credential presented to the API (bearer token, session cookie, pasted token) under the gateway's
 * login throttle, counted with the protocol listeners' failures from the same source. A bearer token names no
 * subject before it is checked, so the API counts per source only (a success still clears the subject's count).
 * The wait is a timer before the answer: nothing else waits on it.
 */
export async function authenticateThrottled(ctx: ApiContext, credential: string, clientAddress: string): Promise<Identity> {
  const source = sourceOf(clientAddress);
  const wait = ctx.throttle.delayMs(source);
  if (wait > 0) await delay(wait);
  let identity: Identity;
  try {
    identity = await ctx.authenticator.authenticate(credential, { protocol: CONTROL_PLANE, clientAddress });
  } catch (err) {
    ctx.throttle.failed(source);
    throw err;
  }
  ctx.throttle.succeeded(source, identity.subject);
  return identity;
}
