// SNS cannot run here, so tests point the service's SNS client at this recorder (the image test through
// AWS_ENDPOINT_URL_SNS, the SDK's service-specific endpoint variable; in-process tests through the client's endpoint). It answers Publish as SNS does in the Query protocol the SDK speaks
// (a form-encoded POST, an XML answer: https://docs.aws.amazon.com/sns/latest/api/API_Publish.html) and keeps each
// message, so the test can see the change events leave the image.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Published {
  readonly topicArn: string;
  readonly message: string;
  /** The `type` message attribute the publisher sets (created, updated, deleted). */
  readonly type: string | undefined;
}

export interface SnsRecorder {
  readonly url: string;
  readonly published: readonly Published[];
  /** Every request body as it came, for what the parsed form leaves out (message attributes such as traceparent). */
  readonly bodies: string[];
  close(): Promise<void>;
}

export async function startSnsRecorder(): Promise<SnsRecorder> {
  const published: Published[] = [];
  const bodies: string[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      bodies.push(body);
      const form = new URLSearchParams(body);
      if (request.method !== 'POST' || form.get('Action') !== 'Publish') {
        response.writeHead(400, { 'content-type': 'text/xml' });
        response.end('<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code></Error></ErrorResponse>');
        return;
      }
      const attribute = [...form.keys()].find((key) => form.get(key) === 'type' && key.endsWith('.Name'));
      published.push({
        topicArn: form.get('TopicArn') ?? '',
        message: form.get('Message') ?? '',
        type: attribute ? (form.get(attribute.replace(/Name$/, 'Value.StringValue')) ?? undefined) : undefined,
      });
      response.writeHead(200, { 'content-type': 'text/xml' });
      response.end(
        '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">' +
          `<PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult>` +
          `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    published,
    bodies,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
