/** The WHATWG `fetch` signature: the global one, or one the caller injects (a proxy agent, a test double). */
export type Fetch = (input: URL, init: RequestInit) => Promise<Response>;

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Key material travels over TLS; plain http is only for an issuer on this machine (local runs and tests). */
export function assertTrustedUrl(raw: string): URL {
  const url = new URL(raw);
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && (loopbackHosts.has(url.hostname) || url.hostname.startsWith('127.'))) return url;
  throw new Error(`refusing to fetch keys over ${url.protocol} from ${url.host}: only https, or http on loopback`);
}

/**
 * GET a JSON document within the caller's deadline (`signal`: the key set's one deadline for discovery and the
 * fetch together), refusing a body over `maxBytes` without reading it to the end. Redirects are refused, not
 * followed.
 */
export async function fetchJson(
  raw: string,
  maxBytes: number,
  signal: AbortSignal,
  fetchImpl: Fetch = fetch,
): Promise<unknown> {
  const url = assertTrustedUrl(raw);
  const response = await fetchImpl(url, { signal, redirect: 'error', headers: { accept: 'application/json' } });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`GET ${url.href} answered ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new Error(`GET ${url.href} declared ${declared} bytes, over the ${maxBytes} byte cap`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  for (let read = await reader?.read(); read && !read.done; read = await reader?.read()) {
    size += read.value.byteLength;
    if (size > maxBytes) {
      await reader?.cancel();
      throw new Error(`GET ${url.href} sent over the ${maxBytes} byte cap`);
    }
    chunks.push(read.value);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}
