import { createHmac } from 'node:crypto';
import type { WebhookConfig } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';

export interface WebhookEvent {
  readonly event: 'review.requested' | 'review.decided' | 'access.requested' | 'access.decided';
  readonly review: Readonly<Record<string, unknown>>;
}

/** `X-Airlock-Signature: sha256=HEX` over `${timestamp}.${body}`, keyed with the webhook's secret. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

function slackText(e: WebhookEvent): string {
  const r = e.review;
  const what = r.kind === 'access' ? `access to *${r.connection}*` : `\`${String(r.text).slice(0, 500)}\` on *${r.connection}*`;
  if (e.event.endsWith('requested')) return `:lock: *${r.requester}* asks for ${what} (rule ${r.rule}). Review ${r.id}: \`airlock reviews approve ${r.id}\``;
  return `${r.status === 'approved' ? ':white_check_mark:' : ':no_entry:'} ${what} for *${r.requester}* ${r.status} by ${r.reviewer ?? 'expiry'}${r.reason ? `: ${r.reason}` : ''}`;
}

/**
 * Posts review events to the configured webhooks, retrying with exponential backoff. Delivery runs
 * detached: a slow or failing receiver never blocks the data path.
 */
export class WebhookNotifier {
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly hooks: readonly WebhookConfig[],
    private readonly log: Logger,
    private readonly options: { attempts?: number; baseDelayMs?: number; timeoutMs?: number } = {},
  ) {}

  notify(event: WebhookEvent): void {
    for (const hook of this.hooks) {
      const p = this.deliver(hook, event).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }

  /** Waits for deliveries under way (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  private async deliver(hook: WebhookConfig, event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(hook.format === 'slack' ? { text: slackText(event) } : { ...event, sentAt: new Date().toISOString() });
    const attempts = this.options.attempts ?? 5;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'airlock-webhook', 'x-airlock-event': event.event, 'x-airlock-timestamp': timestamp };
      if (hook.secret) headers['x-airlock-signature'] = signPayload(hook.secret, timestamp, body);
      try {
        const res = await fetch(hook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000) });
        if (res.ok) return;
        this.log.warn({ url: hook.url, status: res.status, attempt }, 'webhook delivery refused');
      } catch (err) {
        this.log.warn({ url: hook.url, err: (err as Error).message, attempt }, 'webhook delivery failed');
      }
      if (attempt < attempts) await new Promise((r) => setTimeout(r, (this.options.baseDelayMs ?? 500) * 2 ** (attempt - 1)));
    }
    this.log.error({ url: hook.url, event: event.event }, 'webhook delivery gave up');
  }
}
