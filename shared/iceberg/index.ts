// Our Apache Iceberg (format v2) table writer and reader: the public surface of shared/iceberg.
// spec/ is the pure format model; the modules beside it do I/O through the ObjectStore port.
export {
  COMMIT_FAULT_POINTS,
  type CommitOptions,
  type CommitOutcome,
  type CommitPlan,
  commitWithRetry,
  METADATA_PROPERTIES,
  metadataRetention,
} from './commit.ts';
export {
  deleteOrphanFiles,
  type ExpireOptions,
  type ExpireResult,
  expireSnapshots,
  MANIFEST_CACHE,
  ManifestCache,
  type OrphanOptions,
  type ReadCount,
  reachableFiles,
  snapshotsToExpire,
} from './maintenance.ts';
export {
  type AppendResult,
  appendBatches,
  appendFiles,
  type RewriteResult,
  rewriteFiles,
  type StagedBatch,
  type WriteOptions,
} from './operations.ts';
export { listDataFiles, listSnapshots, type ReadRowsOptions, readDataFileRows, readRows } from './reader.ts';
export {
  DEFAULT_MERGE,
  type ManifestMergeOptions,
  readManifestEntries,
  readManifestList,
} from './snapshot-producer.ts';
export { BATCH_IDS_PROPERTY, batchIdsOf, committedBatchIds } from './spec/summary.ts';
export type * from './spec/types.ts';
export {
  createTable,
  dataDirUri,
  findLatestVersion,
  loadOrCreateTable,
  loadTable,
  metadataUriFor,
  refreshTable,
  type Table,
  tableLocation,
  versionHintUri,
} from './table.ts';
