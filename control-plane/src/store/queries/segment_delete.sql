DELETE FROM segments WHERE id = $1
