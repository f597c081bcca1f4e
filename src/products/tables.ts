import type { AttributeDefinition, KeySchemaElement } from '@aws-sdk/client-dynamodb';

export interface TableKeys {
  readonly attributeDefinitions: readonly AttributeDefinition[];
  readonly keySchema: readonly KeySchemaElement[];
}

/**
 * The key definitions of both tables, in one place: the embedded DynamoDB creates its tables from these, and a test
 * proves that infra/service.template.yml declares the same.
 */
export const productsTableKeys: TableKeys = {
  attributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
  keySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
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
