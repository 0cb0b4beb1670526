import { connect } from 'node:net';

/**
 * Writes `head` as it is (what fetch cannot send: a method it forbids, a malformed header, a
 * request line in another form) on a fresh connection to the server at `url`, and resolves with
 * the whole answer, read until the server closes the connection.
 */
export const rawExchange = (url: string, head: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.end(head));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
