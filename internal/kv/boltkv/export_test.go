package boltkv

// Commits is how many write transactions s has committed.
func Commits(s *Store) int64 { return s.Stats().Commits }
