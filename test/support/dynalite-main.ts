// Run as a child process: the embedded DynamoDB (dynalite) on its own, with the service's tables, so that a test or
// the bench can stop (SIGSTOP), resume (SIGCONT) or kill the store without touching the process that uses it.
import { startLocalDynamo } from '../../src/local/dynamodb.js';

const local = await startLocalDynamo({ products: 'Products', snapshots: 'ProductSnapshots' });
process.stdout.write(`${JSON.stringify({ endpoint: local.endpoint })}\n`);
