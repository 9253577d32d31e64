/** Just enough typing for the test identity provider (oidc-provider ships no types and none are installed). */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    static errors: Record<string, new (...args: unknown[]) => Error>;
  }
  export default Provider;
}
