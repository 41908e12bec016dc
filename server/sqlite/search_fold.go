package sqlite

import (
	"database/sql/driver"
	"sort"
	"strings"

	sqlitedrv "modernc.org/sqlite"
)

// The case folding of SQLite's FTS5 tokenizers (sqlite3Fts5UnicodeFold in
// fts5_unicode2.c, in the public domain), which the trigram index of
// prospects_search applies to each character: the last range of foldRanges
// starting at or before a character folds it when the character lies inside
// the range and (for a range of alternating upper and lower case, the low bit
// of its flags) at an even distance from its start, by adding the offset its
// flags name. TestSearchFoldAgreesWithIndex checks it against the index's own
// tokenizer for every character.

// foldRange is one entry of the table: its first character, its flags (the
// low bit: every other character folds; the rest: the offset's index) and its
// length.
type foldRange struct {
	code  uint16
	flags uint8
	n     uint8
}

var foldRanges = [...]foldRange{
	{65, 14, 26}, {181, 64, 1}, {192, 14, 23}, {216, 14, 7}, {256, 1, 48}, {306, 1, 6}, {313, 1, 16},
	{330, 1, 46}, {376, 116, 1}, {377, 1, 6}, {383, 104, 1}, {385, 50, 1}, {386, 1, 4}, {390, 44, 1},
	{391, 0, 1}, {393, 42, 2}, {395, 0, 1}, {398, 32, 1}, {399, 38, 1}, {400, 40, 1}, {401, 0, 1}, {403, 42, 1},
	{404, 46, 1}, {406, 52, 1}, {407, 48, 1}, {408, 0, 1}, {412, 52, 1}, {413, 54, 1}, {415, 56, 1},
	{416, 1, 6}, {422, 60, 1}, {423, 0, 1}, {425, 60, 1}, {428, 0, 1}, {430, 60, 1}, {431, 0, 1}, {433, 58, 2},
	{435, 1, 4}, {439, 62, 1}, {440, 0, 1}, {444, 0, 1}, {452, 2, 1}, {453, 0, 1}, {455, 2, 1}, {456, 0, 1},
	{458, 2, 1}, {459, 1, 18}, {478, 1, 18}, {497, 2, 1}, {498, 1, 4}, {502, 122, 1}, {503, 134, 1},
	{504, 1, 40}, {544, 110, 1}, {546, 1, 18}, {570, 70, 1}, {571, 0, 1}, {573, 108, 1}, {574, 68, 1},
	{577, 0, 1}, {579, 106, 1}, {580, 28, 1}, {581, 30, 1}, {582, 1, 10}, {837, 36, 1}, {880, 1, 4},
	{886, 0, 1}, {902, 18, 1}, {904, 16, 3}, {908, 26, 1}, {910, 24, 2}, {913, 14, 17}, {931, 14, 9},
	{962, 0, 1}, {975, 4, 1}, {976, 140, 1}, {977, 142, 1}, {981, 146, 1}, {982, 144, 1}, {984, 1, 24},
	{1008, 136, 1}, {1009, 138, 1}, {1012, 130, 1}, {1013, 128, 1}, {1015, 0, 1}, {1017, 152, 1}, {1018, 0, 1},
	{1021, 110, 3}, {1024, 34, 16}, {1040, 14, 32}, {1120, 1, 34}, {1162, 1, 54}, {1216, 6, 1}, {1217, 1, 14},
	{1232, 1, 88}, {1329, 22, 38}, {4256, 66, 38}, {4295, 66, 1}, {4301, 66, 1}, {7680, 1, 150}, {7835, 132, 1},
	{7838, 96, 1}, {7840, 1, 96}, {7944, 150, 8}, {7960, 150, 6}, {7976, 150, 8}, {7992, 150, 8},
	{8008, 150, 6}, {8025, 151, 8}, {8040, 150, 8}, {8072, 150, 8}, {8088, 150, 8}, {8104, 150, 8},
	{8120, 150, 2}, {8122, 126, 2}, {8124, 148, 1}, {8126, 100, 1}, {8136, 124, 4}, {8140, 148, 1},
	{8152, 150, 2}, {8154, 120, 2}, {8168, 150, 2}, {8170, 118, 2}, {8172, 152, 1}, {8184, 112, 2},
	{8186, 114, 2}, {8188, 148, 1}, {8486, 98, 1}, {8490, 92, 1}, {8491, 94, 1}, {8498, 12, 1}, {8544, 8, 16},
	{8579, 0, 1}, {9398, 10, 26}, {11264, 22, 47}, {11360, 0, 1}, {11362, 88, 1}, {11363, 102, 1},
	{11364, 90, 1}, {11367, 1, 6}, {11373, 84, 1}, {11374, 86, 1}, {11375, 80, 1}, {11376, 82, 1},
	{11378, 0, 1}, {11381, 0, 1}, {11390, 78, 2}, {11392, 1, 100}, {11499, 1, 4}, {11506, 0, 1}, {42560, 1, 46},
	{42624, 1, 24}, {42786, 1, 14}, {42802, 1, 62}, {42873, 1, 4}, {42877, 76, 1}, {42878, 1, 10},
	{42891, 0, 1}, {42893, 74, 1}, {42896, 1, 4}, {42912, 1, 10}, {42922, 72, 1}, {65313, 14, 26},
}

var foldOffsets = [...]uint16{
	1, 2, 8, 15, 16, 26, 28, 32, 37, 38, 40, 48, 63, 64, 69, 71, 79, 80, 116, 202, 203, 205, 206, 207, 209, 210,
	211, 213, 214, 217, 218, 219, 775, 7264, 10792, 10795, 23228, 23256, 30204, 54721, 54753, 54754, 54756,
	54787, 54793, 54809, 57153, 57274, 57921, 58019, 58363, 61722, 65268, 65341, 65373, 65406, 65408, 65410,
	65415, 65424, 65436, 65439, 65450, 65462, 65472, 65476, 65478, 65480, 65482, 65488, 65506, 65511, 65514,
	65521, 65527, 65528, 65529,
}

// searchFold folds a character as the trigram index does. The tokenizer reads
// U+FFFE and U+FFFF (and surrogates, which Go text never holds) as U+FFFD.
func searchFold(c rune) rune {
	switch {
	case c < 128:
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
	case c == 0xFFFE || c == 0xFFFF:
		c = 0xFFFD
	case c < 65536:
		i := sort.Search(len(foldRanges), func(i int) bool { return rune(foldRanges[i].code) > c }) - 1
		e := foldRanges[i]
		if c < rune(e.code)+rune(e.n) && e.flags&1&(uint8(e.code)^uint8(c)) == 0 {
			c = (c + rune(foldOffsets[e.flags>>1])) & 0xFFFF
		}
	case c >= 66560 && c < 66600:
		c += 40
	}
	return c
}

// searchContains is the SQL function search_contains(text, needle): 1 when
// text, folded as the trigram index folds it, contains needle (already
// folded), else 0, and 0 for a NULL text as the index finds nothing in it.
func searchContains(_ *sqlitedrv.FunctionContext, args []driver.Value) (driver.Value, error) {
	text, _ := args[0].(string)
	needle, _ := args[1].(string)
	if strings.Contains(strings.Map(searchFold, text), needle) {
		return int64(1), nil
	}
	return int64(0), nil
}

func init() {
	sqlitedrv.MustRegisterDeterministicScalarFunction("search_contains", 2, searchContains)
}
