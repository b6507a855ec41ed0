package store

// SetSignalViaSQL makes EachClickSignal on PostgreSQL read through database/sql, as it did
// before its pgx scan (the benchmarks compare the two in one run).
func SetSignalViaSQL(s *DB, on bool) { s.viaSQL = on }
