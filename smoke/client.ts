// How the smoke suite speaks to a deployment: every request bounded by a timeout, so that a deployment that hangs
// fails a check instead of hanging the suite, and every failure said without a token or a secret in it.

/** Why a check failed, in words fit to print: a status, a header, an error code, never a credential. */
export class CheckFailure extends Error {
  override name = 'CheckFailure';
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  /** The body parsed as JSON, or undefined when it is empty or not JSON. */
  readonly json: unknown;
}

export interface RequestOptions {
  readonly token?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface Client {
  request(method: string, path: string, options?: RequestOptions): Promise<Answer>;
  /** client_credentials for `scope`, as a machine asks Cognito's /oauth2/token. */
  token(scope: string): Promise<string>;
}

export interface ClientSettings {
  readonly baseUrl: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly timeoutMs: number;
}

function reasonOf(error: unknown, url: string, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer from ${url} within ${timeoutMs} ms`;
  }
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  return `no answer from ${url} (${typeof code === 'string' ? code : String(error)})`;
}

async function bounded(url: string, init: RequestInit, timeoutMs: number): Promise<Answer> {
  try {
    // The signal bounds the body too: a server that sends headers and then stalls is cut at the same deadline.
    const response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, json };
  } catch (error) {
    throw new CheckFailure(reasonOf(error, url, timeoutMs));
  }
}

export function createClient(settings: ClientSettings): Client {
  // RFC 6749 §2.3.1: the id and the secret are form-encoded before they are joined for HTTP Basic.
  const basic = Buffer.from(
    `${encodeURIComponent(settings.clientId)}:${encodeURIComponent(settings.clientSecret)}`,
  ).toString('base64');

  return {
    request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
      return bounded(
        `${settings.baseUrl}${path}`,
        { method, headers, ...(options.body === undefined ? {} : { body: options.body }) },
        settings.timeoutMs,
      );
    },

    async token(scope) {
      const answer = await bounded(
        settings.tokenUrl,
        {
          method: 'POST',
          headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
        },
        settings.timeoutMs,
      );
      const body = (answer.json ?? {}) as { access_token?: unknown; error?: unknown };
      if (answer.status === 200 && typeof body.access_token === 'string') return body.access_token;
      // Only the status and the OAuth2 error code: the body of a token endpoint is not for printing.
      const code = typeof body.error === 'string' ? ` ${body.error}` : '';
      throw new CheckFailure(`the token endpoint answered ${answer.status}${code}`);
    },
  };
}
