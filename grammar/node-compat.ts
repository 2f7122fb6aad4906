/**
 * chevrotain 13 calls `Object.groupBy` (Node 21+) during grammar analysis; ivc supports Node 20.
 * Imported by parser.ts before the parser is built.
 */
type GroupBy = <T>(items: Iterable<T>, key: (item: T, index: number) => PropertyKey) => Partial<Record<PropertyKey, T[]>>;

const objectWithGroupBy = Object as unknown as { groupBy?: GroupBy };
if (typeof objectWithGroupBy.groupBy !== "function") {
  objectWithGroupBy.groupBy = <T>(items: Iterable<T>, key: (item: T, index: number) => PropertyKey) => {
    const groups: Partial<Record<PropertyKey, T[]>> = Object.create(null);
    let index = 0;
    for (const item of items) {
      const k = key(item, index++);
      (groups[k] ??= []).push(item);
    }
    return groups;
  };
}
