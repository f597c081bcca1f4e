import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { productsTableKeys, snapshotsTableKeys, type TableKeys } from '../products/tables.js';

export interface LocalDynamo {
  readonly endpoint: string;
  readonly close: () => Promise<void>;
}

/**
 * An in-memory DynamoDB (dynalite) for local runs and tests, with both tables created from the same key
 * definitions the CloudFormation template uses. Any credentials and region are accepted.
 */
export async function startLocalDynamo(tables: { products: string; snapshots: string }): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient(localClientConfig(endpoint));
  try {
    await createTable(client, tables.products, productsTableKeys);
    await createTable(client, tables.snapshots, snapshotsTableKeys);
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function localClientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
}

async function createTable(client: DynamoDBClient, name: string, keys: TableKeys): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: [...keys.attributeDefinitions],
        KeySchema: [...keys.keySchema],
        ...(keys.globalSecondaryIndexes ? { GlobalSecondaryIndexes: [...keys.globalSecondaryIndexes] } : {}),
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}
