/** The parts of the `lzma` package (LZMA-JS) we use: synchronous .lzma ("alone" format) calls. */
declare module 'lzma' {
  /** Returns a string when the output is NUL-free UTF-8, else bytes (as signed or unsigned numbers). */
  export function decompress(data: Uint8Array | number[]): string | number[];
  export function compress(data: Uint8Array | number[] | string, mode?: number): number[];
}
