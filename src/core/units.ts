// Type names that carry units, so a height is never mistaken for a timestamp or a byte count.
/** Chain height: one epoch per block delay. */
export type Epoch = number
/** Seconds since the Unix epoch, as Filecoin headers carry them. */
export type UnixSeconds = number
/** An amount of FIL in attoFIL (10^-18 FIL), as every Filecoin amount is counted. */
export type AttoFil = bigint
/** Filecoin gas units (GasLimit, GasUsed). */
export type GasUnits = number
