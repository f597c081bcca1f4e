/** The headers of a request carrying `token` in the Authorization header (RFC 6750 §2.1). */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
