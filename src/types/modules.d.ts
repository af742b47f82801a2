// seek-bzip ships no type declarations; this is the part heaplake uses.
declare module 'seek-bzip' {
  const Bunzip: { decode(input: Buffer, output: unknown, multistream?: boolean): unknown };
  export default Bunzip;
}
