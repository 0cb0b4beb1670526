/**
 * Typed GraphQL requests from a chosen loopback source address (127.0.0.2, …), so that the
 * gateway sees a different client IP on a real socket. One connection per request: no pooled
 * socket outlives the test or keeps a gateway from closing.
 */
import { request } from 'node:http';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { GqlResult, RequestOptions } from './gateway';

export async function gqlFrom<TData, TVars>(
  gw: { url: string },
  localAddress: string,
  document: TypedDocumentNode<TData, TVars>,
  variables?: TVars,
  options: RequestOptions = {},
): Promise<GqlResult<TData>> {
  const body = JSON.stringify({ query: print(document), variables });
  const target = new URL('/graphql', gw.url);
  const { status, headers, text } = await new Promise<{ status: number; headers: Headers; text: string }>(
    (resolve, reject) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          localAddress,
          agent: false,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            connection: 'close',
            ...(options.token && { authorization: `Bearer ${options.token}` }),
            ...(options.cookie && { cookie: options.cookie }),
            ...options.headers,
          },
        },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (data += chunk));
          res.on('end', () => {
            const h = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined) h.set(name, Array.isArray(value) ? value.join(', ') : value);
            }
            resolve({ status: res.statusCode ?? 0, headers: h, text: data });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
  const json = JSON.parse(text) as { data?: never; errors?: never };
  return { status, data: json.data, errors: json.errors, headers };
}

/** A client bound to one source address: `const from2 = clientAt(gw, '127.0.0.2')`. */
export const clientAt =
  (gw: { url: string }, localAddress: string) =>
  <TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables?: TVars, options?: RequestOptions) =>
    gqlFrom(gw, localAddress, document, variables, options);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
