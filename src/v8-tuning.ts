import v8 from 'node:v8';

// V8 settings for a process whose job is serving the gateway (`owlrun` without a subcommand, the
// bench's gateway process). MUST run once, before the gateway takes load.
//
// Allocation-site pretenuring off. Under steady load V8 may decide, from one young-generation GC
// where many objects of a hot allocation site happened to be alive, that the site's objects live
// long, and from then on allocates every later one in the old generation: a request's objects,
// which die within milliseconds, then fill the old generation (+2 MB per young GC) and make every
// young GC scan them. Whether the decision is taken varies from one start to the next. Measured
// on the plain gateway, 32 wrk connections, 6 s, three processes each way: young-GC time 575–713
// ms with pretenuring, 175–197 ms without; full GCs 5–22 against 1–5; in the bench the same code
// ran at 0.72–0.75x or 0.90–0.91x a bare proxy's requests/s depending on the start.
export function tuneV8ForServing(): void {
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}
