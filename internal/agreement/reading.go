package agreement

import "math"

// Strength is a Landis & Koch (1977) band for a κ value.
type Strength string

// The Landis & Koch bands. Their table gives two-decimal ranges (0.00–0.20, 0.21–0.40, ...);
// for values between them each band here includes its upper bound, so 0.205 is Fair.
const (
	Poor          Strength = "poor"           // κ < 0
	Slight        Strength = "slight"         // 0 ≤ κ ≤ 0.20
	Fair          Strength = "fair"           // 0.20 < κ ≤ 0.40
	Moderate      Strength = "moderate"       // 0.40 < κ ≤ 0.60
	Substantial   Strength = "substantial"    // 0.60 < κ ≤ 0.80
	AlmostPerfect Strength = "almost perfect" // κ > 0.80
	// UndefinedStrength is the band of NaN, the value returned for an undefined κ.
	UndefinedStrength Strength = "undefined"
)

// LandisKoch returns the Landis & Koch band of a κ (Cohen's or Fleiss'). The bands are a
// convention, not a test: they help a reader, and they are commonly applied to α too.
func LandisKoch(kappa float64) Strength {
	switch {
	case math.IsNaN(kappa):
		return UndefinedStrength
	case kappa < 0:
		return Poor
	case kappa <= 0.20:
		return Slight
	case kappa <= 0.40:
		return Fair
	case kappa <= 0.60:
		return Moderate
	case kappa <= 0.80:
		return Substantial
	}
	return AlmostPerfect
}

// Reliability is Krippendorff's reading of an α value.
type Reliability string

// Krippendorff's (2004) thresholds: rely on data with α ≥ 0.800, draw only tentative
// conclusions from 0.667 ≤ α < 0.800, and discard data below 0.667.
const (
	Reliable             Reliability = "reliable"   // α ≥ 0.800
	Tentative            Reliability = "tentative"  // 0.667 ≤ α < 0.800
	Unreliable           Reliability = "unreliable" // α < 0.667
	UndefinedReliability Reliability = "undefined"  // NaN
)

// ReadAlpha returns Krippendorff's reading of α.
func ReadAlpha(alpha float64) Reliability {
	switch {
	case math.IsNaN(alpha):
		return UndefinedReliability
	case alpha >= 0.800:
		return Reliable
	case alpha >= 0.667:
		return Tentative
	}
	return Unreliable
}
