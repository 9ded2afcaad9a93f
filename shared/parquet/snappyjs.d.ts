// snappyjs 0.7 ships no types: the two functions the Parquet writer and reader use.
declare module 'snappyjs' {
  export function compress(input: Uint8Array): Uint8Array;
  export function uncompress(input: Uint8Array): Uint8Array;
}
