// The store work a products request needs, done with the SDK directly: the bench's direct sides and the bare HTTP
// target both call these, so that the service is compared with exactly the calls it makes.
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { localClientConfig } from '../src/local/dynamodb.js';
import { pendingIndex } from '../src/products/repository.js';

export type Documents = DynamoDBDocumentClient;

export function documentsAt(endpoint: string): Documents {
  return DynamoDBDocumentClient.from(new DynamoDBClient(localClientConfig(endpoint)));
}

export function getProduct(documents: Documents, id: string): Promise<Record<string, unknown> | undefined> {
  return documents
    .send(new GetCommand({ TableName: 'Products', Key: { id }, ConsistentRead: true }))
    .then(({ Item }) => Item);
}

/** A client-written product as the service stores it, without its id. */
export function storedFields(fields: object): Record<string, unknown> {
  return { ...fields, version: 1, lastModified: new Date().toISOString(), deleted: false };
}

/** A bare PutItem: the floor under any create. */
export async function putProduct(documents: Documents, fields: Record<string, unknown>): Promise<string> {
  const id = randomUUID();
  await documents.send(new PutCommand({ TableName: 'Products', Item: { ...fields, id } }));
  return id;
}

/**
 * What a create must store durably: the product with its outbox entry and pending mark in one conditional put, then
 * the entry's and the mark's removal once the event is out.
 */
export async function createWithOutbox(documents: Documents, fields: Record<string, unknown>): Promise<string> {
  const id = randomUUID();
  await documents.send(
    new PutCommand({
      TableName: 'Products',
      Item: {
        ...fields,
        id,
        outbox: { e1: { event: { type: 'created', id, version: 1 } } },
        [pendingIndex.partitionKey]: pendingIndex.pending,
        [pendingIndex.sortKey]: fields['lastModified'],
      },
      ConditionExpression: 'attribute_not_exists(id)',
    }),
  );
  await documents.send(
    new UpdateCommand({
      TableName: 'Products',
      Key: { id },
      UpdateExpression: 'REMOVE outbox.#key, #state, #since',
      ConditionExpression: '#version = :version',
      ExpressionAttributeNames: {
        '#key': 'e1',
        '#version': 'version',
        '#state': pendingIndex.partitionKey,
        '#since': pendingIndex.sortKey,
      },
      ExpressionAttributeValues: { ':version': 1 },
    }),
  );
  return id;
}
