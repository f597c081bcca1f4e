// Child process of `npm run bench`: the embedded DynamoDB (dynalite) on its own, with the service's tables.
import { startLocalDynamo } from '../src/local/dynamodb.js';

const local = await startLocalDynamo({ products: 'Products', snapshots: 'ProductSnapshots' });
process.stdout.write(`${JSON.stringify({ endpoint: local.endpoint })}\n`);
