/**
 * imageURL values that are not absolute http(s) URIs as RFC 3986 §3 and `format: uri` mean them, although the WHATWG
 * URL parser takes most of them: a space, non-ASCII, a bad percent-escape, `{}|^`, `"<>`, a NUL, no host, another
 * scheme, no scheme.
 */
export const notHttpUris: readonly string[] = [
  'https://images.example.com/a b.png',
  'https://images.example.com/caf\u00e9.png',
  'https://images.example.com/%zz',
  'https://images.example.com/{a}|^',
  'https://images.example.com/"<>"',
  'https://images.example.com/a\u0000.png',
  'http:///a.png',
  'ftp://images.example.com/a.png',
  'images.example.com/a.png',
];
