SELECT key FROM environments WHERE id = $1
