def execute_command(image):
    # Question: Are there at least three stars?
    image_patch = ImagePatch(image)
    star_patches = image_patch.find("star")
    if len(star_patches) >= 3:
        return "yes"
    if len(star_patches) == 2:
        # One star may be hidden behind another shape and missed by the detector:
        # ask for a count as a second opinion on close calls
        count = coerce_to_numeric(image_patch.simple_query("How many stars are there?"))
        return bool_to_yesno(count >= 3)
    return "no"
