DELETE FROM environments WHERE id = $1
