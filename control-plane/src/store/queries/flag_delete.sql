DELETE FROM flags WHERE id = $1
