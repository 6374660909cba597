package gen

// The vocabulary of the generated population: sports, the topics articles
// are about (each belonging to a sport or general), cohort tags.

const (
	seasonNone = iota
	seasonWinter
	seasonSummer
	seasonJuly     // grand tours
	seasonMarathon // spring and autumn race seasons
)

type sport struct {
	name       string
	tag        string  // cohort tag of its fans
	popularity float64 // share of users whose primary sport it is
	season     int
}

var sports = []sport{
	{"cycling", "cyclist", 0.30, seasonSummer},
	{"running", "runner", 0.22, seasonMarathon},
	{"hiking", "hiker", 0.14, seasonSummer},
	{"skiing", "ski-touring", 0.09, seasonWinter},
	{"triathlon", "triathlete", 0.08, seasonSummer},
	{"climbing", "climber", 0.09, seasonNone},
	{"swimming", "swimmer", 0.08, seasonSummer},
}

const general = -1 // topics of no sport in particular

type topic struct {
	slug       string
	name       string // as it appears in titles
	sport      int    // index in sports, or general
	popularity float64
	season     int
	things     []string // what articles review or explain, for titles
}

var topics = []topic{
	{"cycling", "Cycling", 0, 1.0, seasonSummer, []string{"Road Bikes", "Bike Lights", "Saddles", "Cycling Jackets", "Bike Computers"}},
	{"road-cycling", "Road Cycling", 0, 0.7, seasonSummer, []string{"Aero Helmets", "Carbon Wheels", "Climbing Bikes"}},
	{"mountain-biking", "Mountain Biking", 0, 0.6, seasonSummer, []string{"Trail Bikes", "Full-Suspension Bikes", "MTB Shoes"}},
	{"gravel", "Gravel Riding", 0, 0.5, seasonSummer, []string{"Gravel Bikes", "Gravel Tyres", "Bikepacking Bags"}},
	{"tour-de-france", "Tour de France", 0, 0.5, seasonJuly, []string{"Stage Favourites", "Team Bikes", "Mountain Stages"}},
	{"bike-maintenance", "Bike Maintenance", 0, 0.4, seasonNone, []string{"Chain Lubes", "Multi-Tools", "Track Pumps"}},
	{"e-bikes", "E-Bikes", 0, 0.3, seasonNone, []string{"Commuter E-Bikes", "E-MTBs", "E-Bike Batteries"}},
	{"running", "Running", 1, 1.0, seasonMarathon, []string{"Running Shoes", "GPS Watches", "Running Jackets"}},
	{"trail-running", "Trail Running", 1, 0.6, seasonSummer, []string{"Trail Shoes", "Hydration Vests", "Poles"}},
	{"marathon", "Marathon", 1, 0.5, seasonMarathon, []string{"Race Shoes", "Energy Gels", "Pacing Strategies"}},
	{"ultrarunning", "Ultrarunning", 1, 0.3, seasonSummer, []string{"Ultra Packs", "Headlamps", "Race Foods"}},
	{"hiking", "Hiking", 2, 0.8, seasonSummer, []string{"Hiking Boots", "Daypacks", "Rain Shells"}},
	{"thru-hiking", "Thru-Hiking", 2, 0.3, seasonSummer, []string{"Ultralight Tents", "Water Filters", "Trail Stoves"}},
	{"camping", "Camping", 2, 0.5, seasonSummer, []string{"Sleeping Bags", "Camping Stoves", "Sleeping Mats"}},
	{"ski-touring", "Ski Touring", 3, 0.6, seasonWinter, []string{"Touring Skis", "Skins", "Touring Boots"}},
	{"alpine-skiing", "Alpine Skiing", 3, 0.6, seasonWinter, []string{"All-Mountain Skis", "Ski Goggles", "Ski Helmets"}},
	{"cross-country-skiing", "Cross-Country Skiing", 3, 0.3, seasonWinter, []string{"Skate Skis", "Nordic Poles", "Waxes"}},
	{"avalanche-safety", "Avalanche Safety", 3, 0.3, seasonWinter, []string{"Transceivers", "Avalanche Airbags", "Probes"}},
	{"triathlon", "Triathlon", 4, 0.6, seasonSummer, []string{"Tri Suits", "Time-Trial Bikes", "Transition Bags"}},
	{"ironman", "Ironman", 4, 0.4, seasonSummer, []string{"Race Wheels", "Nutrition Plans", "Wetsuits"}},
	{"climbing", "Climbing", 5, 0.7, seasonNone, []string{"Climbing Shoes", "Harnesses", "Ropes"}},
	{"bouldering", "Bouldering", 5, 0.5, seasonNone, []string{"Crash Pads", "Chalk Bags", "Fingerboards"}},
	{"mountaineering", "Mountaineering", 5, 0.4, seasonSummer, []string{"Crampons", "Ice Axes", "Expedition Jackets"}},
	{"swimming", "Swimming", 6, 0.7, seasonSummer, []string{"Swim Goggles", "Pull Buoys", "Swim Watches"}},
	{"open-water", "Open-Water Swimming", 6, 0.4, seasonSummer, []string{"Wetsuits", "Tow Floats", "Swim Caps"}},
	{"gear-reviews", "Gear", general, 1.0, seasonNone, []string{"Budget Upgrades", "Smart Watches", "Base Layers", "Headphones"}},
	{"nutrition", "Sports Nutrition", general, 0.7, seasonNone, []string{"Protein Bars", "Electrolyte Drinks", "Recovery Shakes"}},
	{"training-plans", "Training", general, 0.7, seasonNone, []string{"Interval Sessions", "Base Training Blocks", "Taper Weeks"}},
	{"injury-prevention", "Injury Prevention", general, 0.4, seasonNone, []string{"Foam Rollers", "Strength Routines", "Mobility Drills"}},
	{"recovery", "Recovery", general, 0.4, seasonNone, []string{"Massage Guns", "Compression Socks", "Sleep Trackers"}},
	{"adventure-travel", "Adventure Travel", general, 0.4, seasonSummer, []string{"Travel Bags", "Destinations", "Bike Boxes"}},
}

// longTailTags are rarer cohort tags, drawn with Zipf-like frequencies (the
// first is the most common); some are not ASCII on purpose.
var longTailTags = []string{
	"commuter", "bikepacker", "parkrunner", "masters-athlete", "ciclista-ñ",
	"kayaker", "randonneur", "läufer", "paddleboarder", "fell-runner",
	"orienteer", "vélotafeur", "snowshoer", "duathlete", "alpinist",
	"cyclocross-racer", "montañista", "e-biker", "trail-builder", "nordic-walker",
	"bike-mechanic", "run-coach", "downhiller", "ice-climber", "skimo-racer",
	"canyoneer", "bmx-rider", "スキーヤー", "скалолаз", "para-athlete",
	"outdoor-photographer", "birdwatcher", "race-volunteer", "aquathlete", "enduro-rider",
	"fixie-rider", "sup-yogi", "gravel-grinder", "登山者", "trailläufer",
}

var (
	tiers        = []string{"champion", "loyal", "casual", "dormant", "new"}
	tierShare    = []float64{0.06, 0.20, 0.34, 0.25, 0.15}
	tierActivity = []float64{8, 4, 1.5, 0.4, 1.2} // relative reading activity
	weekdays     = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	dayWeight    = []float64{1, 1, 1, 1, 1.1, 2.2, 2.4}
	devices      = []string{"app", "mobile", "desktop", "tablet"}
	deviceShare  = []float64{0.30, 0.35, 0.25, 0.10}
	emailLevels  = []string{"highly_engaged", "moderate", "low", "unsubscribed"}
	// emailByTier[tier] is the distribution over emailLevels.
	emailByTier = [][]float64{
		{0.60, 0.30, 0.08, 0.02},
		{0.35, 0.40, 0.20, 0.05},
		{0.15, 0.35, 0.35, 0.15},
		{0.03, 0.15, 0.42, 0.40},
		{0.25, 0.40, 0.30, 0.05},
	}
	breadths = []string{"single-sport", "multi-sport", "generalist"}
	// scoreByTier: mean and spread of engagement_score per tier.
	scoreByTier = [][2]float64{{86, 7}, {68, 9}, {44, 11}, {14, 8}, {32, 14}}
	// lastVisitDays: the range of days since the last visit per tier.
	lastVisitDays = [][2]float64{{0, 7}, {0, 21}, {0, 45}, {31, 180}, {0, 14}}
	// visitsByTier: the range of visits in 30 days per tier.
	visitsByTier = [][2]int{{12, 45}, {5, 20}, {1, 9}, {0, 0}, {1, 6}}
	titles       = []string{
		"The {n} Best {thing} of {year}",
		"{name} for Beginners: {n} Things to Know",
		"How to Choose {thing}",
		"{n} {name} Mistakes to Avoid This {season}",
		"Tested: {thing} That Are Worth the Money",
		"Our {name} Guide for {season} {year}",
		"What Pros Know About {name} That You Don't",
		"{thing} Compared: Which Is Right for You?",
		"A {n}-Week {name} Plan",
		"Why {name} Is Booming in {year}",
		"{thing}: Our Long-Term Review",
		"{season} {name}: {n} Tips From Coaches",
	}
)

// seasonFactor weighs a topic's season against a month (1–12).
func seasonFactor(season, month int) float64 {
	switch season {
	case seasonWinter:
		if month >= 11 || month <= 3 {
			return 3
		}
		return 0.3
	case seasonSummer:
		if month >= 4 && month <= 9 {
			return 1.6
		}
		return 0.6
	case seasonJuly:
		switch month {
		case 7:
			return 6
		case 6, 8:
			return 2
		}
		return 0.3
	case seasonMarathon:
		switch month {
		case 3, 4, 9, 10, 11:
			return 1.7
		}
		return 0.8
	}
	return 1
}

func seasonName(month int) string {
	switch month {
	case 12, 1, 2:
		return "Winter"
	case 3, 4, 5:
		return "Spring"
	case 6, 7, 8:
		return "Summer"
	}
	return "Autumn"
}
