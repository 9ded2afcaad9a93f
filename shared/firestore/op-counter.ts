// Counts Firestore operations as they are billed (document reads, writes, deletes), per invocation.
export class OpCounter {
  reads = 0;
  writes = 0;
  deletes = 0;

  add(other: { reads: number; writes: number; deletes: number }): void {
    this.reads += other.reads;
    this.writes += other.writes;
    this.deletes += other.deletes;
  }

  snapshot(): { reads: number; writes: number; deletes: number } {
    return { reads: this.reads, writes: this.writes, deletes: this.deletes };
  }
}
