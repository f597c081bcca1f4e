import type { JsonPatch, Product, ProductFields } from './schema.js';

// Hand-written examples for the OpenAPI document and the docs page: what a real client sends and gets, so that
// Execute on the page works as it stands (a test validates each against its schema).

export const exampleInput: ProductFields = {
  name: 'Trek Domane SL 6',
  imageURL: 'https://images.example.com/trek/domane-sl-6.png',
  description: 'Endurance road bike with a carbon frame and electronic shifting.',
  price: { amount: 4299.99, currency: 'EUR' },
  tags: ['road', 'endurance'],
};

export const exampleProduct: Product = {
  id: 'Xq7c1k9ZfT2aLm4pQw8eRg',
  ...exampleInput,
  version: 3,
  lastModified: '2026-11-30T09:15:00.000Z',
};

/** Small and valid: a price change and one more tag. */
export const examplePatch: JsonPatch = [
  { op: 'replace', path: '/price/amount', value: 3999.99 },
  { op: 'add', path: '/tags/-', value: 'sale' },
];

export const exampleInvalid = {
  error: 'invalid_product',
  error_description: 'the product is not valid',
  errors: { '/name': ['must not be blank'], '/price/currency': ['must be an ISO 4217 code such as USD'] },
};
