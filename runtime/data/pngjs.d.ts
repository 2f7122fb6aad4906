/** The part of pngjs (which ships no types) that ivc uses: synchronous decode and encode, 8-bit RGBA. */
declare module "pngjs" {
  interface RgbaImage {
    width: number;
    height: number;
    /** RGBA, 8 bits per channel, rows top to bottom. */
    data: Uint8Array;
  }
  const pngjs: {
    PNG: {
      sync: {
        read(buffer: Uint8Array): RgbaImage;
        write(image: RgbaImage): Buffer;
      };
    };
  };
  export default pngjs;
}
