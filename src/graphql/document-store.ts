/**
 * Apollo's cache of parsed and validated documents, bounded by what its entries really hold.
 *
 * Apollo's default store (an LRU of 30 MiB) sizes a document by its JSON form, which leaves out
 * the source text every AST node's location keeps alive (`loc.source.body`) and the lexer's token
 * list: a valid `{ __typename }` followed by a 99 KB comment (comments and whitespace are no
 * tokens) counted as ~0.4 KB and kept ~100 KB, so unique such requests grew the heap without
 * bound until the process ran out of memory. Here an entry counts its source (two bytes a code
 * unit) and its tokens, comments included, at about what they take on the heap; the store is
 * Apollo's own LRU otherwise.
 */
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { TokenKind, type DocumentNode, type Token } from 'graphql';

/** About what one token and the AST around it take on V8's heap (measured: 230–290 bytes). */
const BYTES_PER_TOKEN = 300;
/** A comment is a token of the lexer's list but no node of the AST (measured: about 90 bytes). */
const BYTES_PER_COMMENT = 100;
/** Apollo's own default budget (30 MiB), now counted in what the entries hold. */
const MAX_BYTES = 30 * 1024 * 1024;

export function documentSize(document: DocumentNode): number {
  const loc = document.loc;
  if (!loc) return 1024;
  let bytes = 2 * loc.source.body.length;
  for (let token: Token | null = loc.startToken; token; token = token.next) {
    bytes += token.kind === TokenKind.COMMENT ? BYTES_PER_COMMENT : BYTES_PER_TOKEN;
  }
  return bytes;
}

/** An entry larger than the whole budget is not kept at all. */
export const boundedDocumentStore = (maxBytes = MAX_BYTES) =>
  new InMemoryLRUCache<DocumentNode>({ maxSize: maxBytes, sizeCalculation: documentSize });
