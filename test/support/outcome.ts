import { AuthRefusal, type RefusalReason, type Verifier } from '../../src/auth/index.js';

/** Verifies `token` and says how it ended: 'accepted', or the refusal reason. */
export async function outcome(verifier: Pick<Verifier, 'verify'>, token: string): Promise<RefusalReason | 'accepted'> {
  try {
    await verifier.verify(token);
    return 'accepted';
  } catch (error) {
    if (error instanceof AuthRefusal) return error.reason;
    throw error;
  }
}
