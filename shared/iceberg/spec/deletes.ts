// Which delete files apply to a data file (spec "Scan Planning", "Position Delete Files", "Equality
// Delete Files"). Used three ways: the reader applies them, compaction leaves such data files alone, and a
// replace commit refuses to replace a data file that has any (Java RewriteFiles'
// validateNoNewDeletesForDataFiles). Pure.
import { partitionKey } from './manifests.ts';
import { DATA_FILE_CONTENT, type DataFile, type PartitionSpec, type ResolvedEntry } from './types.ts';

/** A live entry with the partition spec of the manifest that holds it. */
export interface SpecEntry {
  readonly entry: ResolvedEntry;
  readonly specId: number;
}

export interface ApplicableDeletes {
  readonly position: readonly SpecEntry[];
  readonly equality: readonly SpecEntry[];
}

const NONE: ApplicableDeletes = { position: [], equality: [] };

/** Reserved field id of a position delete file's `file_path` column. */
const FILE_PATH_ID = 2147483546;

/**
 * Whether a position delete file may name `path`: its referenced_data_file, else equal lower and upper
 * bounds of its file_path column (Java's way to know the one file it names), else the data file paths
 * read from it; with none of these, it may name any file of its partition.
 */
function namesFile(f: DataFile, path: string, targets: ReadonlySet<string> | undefined): boolean {
  if (f.referencedDataFile !== undefined) return f.referencedDataFile === path;
  const lo = f.lowerBounds?.[FILE_PATH_ID];
  const hi = f.upperBounds?.[FILE_PATH_ID];
  if (lo !== undefined && hi !== undefined && Buffer.compare(lo, hi) === 0)
    return Buffer.from(lo).toString('utf8') === path;
  return targets === undefined || targets.has(path);
}

/** An index of a snapshot's live delete files by partition, for many data file look-ups. */
export class DeleteIndex {
  private readonly byPartition = new Map<string, SpecEntry[]>();
  /** Equality deletes of an unpartitioned spec apply to every partition (global). */
  private readonly global: SpecEntry[] = [];
  private readonly unpartitioned: ReadonlySet<number>;
  readonly size: number;

  /** Data file paths each position delete file names (from its content), when known. */
  private readonly targets: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(
    deletes: readonly SpecEntry[],
    specs: readonly PartitionSpec[],
    positionTargets: ReadonlyMap<string, ReadonlySet<string>> = new Map(),
  ) {
    this.targets = positionTargets;
    this.unpartitioned = new Set(specs.filter((s) => s.fields.length === 0).map((s) => s.specId));
    for (const d of deletes) {
      const c = d.entry.dataFile.content;
      if (c === DATA_FILE_CONTENT.equalityDeletes && this.unpartitioned.has(d.specId)) {
        this.global.push(d);
        continue;
      }
      const key = `${d.specId}|${partitionKey(d.entry.dataFile.partition)}`;
      const list = this.byPartition.get(key);
      if (list === undefined) this.byPartition.set(key, [d]);
      else list.push(d);
    }
    this.size = deletes.length;
  }

  /**
   * The delete files that apply to a data file:
   * - a position delete when its data sequence number is >= the data file's, in the same partition
   *   (spec and values), and it may name the data file (see namesFile);
   * - an equality delete when its data sequence number is > the data file's, in the same partition or
   *   in an unpartitioned spec.
   */
  forDataFile(data: SpecEntry): ApplicableDeletes {
    if (this.size === 0) return NONE;
    const seq = data.entry.sequenceNumber;
    const path = data.entry.dataFile.filePath;
    const position: SpecEntry[] = [];
    const equality: SpecEntry[] = [];
    const same = this.byPartition.get(`${data.specId}|${partitionKey(data.entry.dataFile.partition)}`) ?? [];
    for (const d of [...same, ...this.global]) {
      const f = d.entry.dataFile;
      if (f.content === DATA_FILE_CONTENT.positionDeletes) {
        if (d.entry.sequenceNumber >= seq && namesFile(f, path, this.targets.get(f.filePath)))
          position.push(d);
      } else if (f.content === DATA_FILE_CONTENT.equalityDeletes && d.entry.sequenceNumber > seq) {
        equality.push(d);
      }
    }
    return { position, equality };
  }

  /** Whether any delete file applies to the data file. */
  hasDeletes(data: SpecEntry): boolean {
    const d = this.forDataFile(data);
    return d.position.length > 0 || d.equality.length > 0;
  }
}
