/**
 * A dependency's failure as log fields: its type, message and code, and those of its cause, without a stack trace.
 * For what is expected to happen now and then (a store or issuer that cannot be reached, credentials that cannot be
 * had), where a stack says nothing an operator can act on and floods the log. A bug (a 500) keeps its stack.
 */
export function failureFields(error: unknown): Record<string, string> {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code } = error as { code?: unknown };
  const cause = error.cause instanceof Error ? error.cause : undefined;
  return {
    type: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(cause ? { cause: `${cause.name}: ${cause.message}` } : {}),
  };
}
