import type { AttributeDefinition, GlobalSecondaryIndex, KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { pendingIndex } from './repository.js';

export interface TableKeys {
  readonly attributeDefinitions: readonly AttributeDefinition[];
  readonly keySchema: readonly KeySchemaElement[];
  readonly globalSecondaryIndexes?: readonly GlobalSecondaryIndex[];
}

/**
 * The key definitions of both tables, in one place: the embedded DynamoDB creates its tables from these, and a test
 * proves that infra/service.template.yml declares the same.
 */
export const productsTableKeys: TableKeys = {
  attributeDefinitions: [
    { AttributeName: 'id', AttributeType: 'S' },
    { AttributeName: pendingIndex.partitionKey, AttributeType: 'S' },
    { AttributeName: pendingIndex.sortKey, AttributeType: 'S' },
  ],
  keySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
  // Sparse: only products with undelivered outbox entries carry its keys, so it holds what is pending and no more.
  globalSecondaryIndexes: [
    {
      IndexName: pendingIndex.name,
      KeySchema: [
        { AttributeName: pendingIndex.partitionKey, KeyType: 'HASH' },
        { AttributeName: pendingIndex.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    },
  ],
};

export const snapshotsTableKeys: TableKeys = {
  attributeDefinitions: [
    { AttributeName: 'id', AttributeType: 'S' },
    { AttributeName: 'version', AttributeType: 'N' },
  ],
  keySchema: [
    { AttributeName: 'id', KeyType: 'HASH' },
    { AttributeName: 'version', KeyType: 'RANGE' },
  ],
};
