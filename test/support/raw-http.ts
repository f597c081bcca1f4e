import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * One TCP connection to a server, written to byte by byte as a test likes (a chunked body cut short, headers sent
 * slowly, several requests in a row on one keep-alive connection) and read one HTTP/1.1 response at a time.
 */
export interface RawConnection {
  write(data: string | Buffer): Promise<void>;
  /** The next whole response; rejects if the connection closes first, or after `timeoutMs`. */
  response(timeoutMs?: number): Promise<RawResponse>;
  /** Resolves once the server has closed the connection: `reset` when it ended with a RST (ECONNRESET). */
  closed(): Promise<{ readonly reset: boolean }>;
  destroy(): void;
}

export async function openRaw(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffered = Buffer.alloc(0);
  let ended = false;
  let reset = false;
  const wake: (() => void)[] = [];
  const notify = () => {
    for (const resolve of wake.splice(0)) resolve();
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    notify();
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ECONNRESET') reset = true;
  });
  socket.on('close', () => {
    ended = true;
    notify();
  });

  /** A whole response at the front of the buffer, taken off it; undefined while one is still arriving. */
  function take(): RawResponse | undefined {
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine = '', ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const headerLine of lines) {
      const colon = headerLine.indexOf(':');
      headers[headerLine.slice(0, colon).trim().toLowerCase()] = headerLine.slice(colon + 1).trim();
    }
    const status = Number(statusLine.split(' ')[1]);
    const length = headers['content-length'];
    let bodyEnd: number;
    if (length !== undefined) {
      bodyEnd = end + 4 + Number(length);
      if (buffered.length < bodyEnd) return undefined;
    } else if (status === 204 || status === 304) {
      bodyEnd = end + 4;
    } else {
      if (!ended) return undefined; // no length: the body runs to the end of the connection
      bodyEnd = buffered.length;
    }
    const body = buffered.subarray(end + 4, bodyEnd).toString('utf8');
    buffered = buffered.subarray(bodyEnd);
    return { status, headers, body };
  }

  return {
    write: (data) =>
      new Promise<void>((resolve, reject) => socket.write(data, (error) => (error ? reject(error) : resolve()))),
    async response(timeoutMs = 10_000) {
      const until = performance.now() + timeoutMs;
      for (;;) {
        const found = take();
        if (found) return found;
        if (ended) throw new Error(`the connection closed${reset ? ' with a reset' : ''} before a response`);
        const left = until - performance.now();
        if (left <= 0) throw new Error(`no response within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async closed() {
      while (!ended) await new Promise<void>((resolve) => wake.push(resolve));
      return { reset };
    },
    destroy: () => socket.destroy(),
  };
}
