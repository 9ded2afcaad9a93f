// Parquet data files for the Iceberg tables: the public surface of shared/parquet.
export {
  type ByteSink,
  type ColumnBatch,
  DataFileEncoder,
  type DataFileOptions,
  type DataFileResult,
  type EncodedDataFile,
  encodeDataFile,
  PARQUET_CONTENT_TYPE,
  storeDataFile,
  storeRollingDataFiles,
  writeDataFile,
} from './data-file-writer.ts';
export {
  dayBoundsOf,
  formatDay,
  formatMicros,
  MICROS_PER_DAY,
  partitionDayOf,
  rowPartitionDay,
  splitRowsByDay,
} from './partition.ts';
export { compareUtf8 } from './utf8-order.ts';
