// The pipeline's own version, as other engines see it: the Parquet footer's `created_by`
// (`streamjoin version 0.1.0`, the form parquet-mr's VersionParser reads) and the snapshot summary's
// `engine-version`. Kept equal to package.json's version by a unit test (a deployed function has no
// package.json beside its modules to read at run time).
export const STREAMJOIN_NAME = 'streamjoin';
export const STREAMJOIN_VERSION = '0.1.0';

/** Parquet `created_by`: `<application> version <semver>`. */
export const PARQUET_CREATED_BY = `${STREAMJOIN_NAME} version ${STREAMJOIN_VERSION}`;
