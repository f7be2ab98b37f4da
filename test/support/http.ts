/** HTTP requests to a service under test, as the e2e specs make them. */

export interface Answer {
  status: number;
  /** The reply parsed as JSON; undefined when the reply is empty. */
  body: any;
  headers: Headers;
}

export interface RequestOptions {
  /** Sent as a bearer token when set. */
  token?: string | null;
  /** A string is sent as it is; anything else as JSON. */
  body?: unknown;
  /** Content type of the body (default application/json). */
  contentType?: string;
  headers?: Record<string, string>;
}

export async function request(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] = options.contentType ?? 'application/json';
  }
  const response = await fetch(baseUrl + path, { method, headers, body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}
