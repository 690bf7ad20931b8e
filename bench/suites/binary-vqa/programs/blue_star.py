def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: Is there a blue star?
    # Plan: find every star in the image, then check the color of each star on its own
    # crop. Stars can be small and faded, so if the detector finds none we ask the
    # whole image once before answering.
    image_patch = ImagePatch(image)
    star_patches = image_patch.find("star")
    if len(star_patches) == 0:
        # No star found: fall back to asking the image directly
        return image_patch.simple_query("Is there a blue star?")
    for star_patch in star_patches:
        # verify_property looks at this star's crop only
        if star_patch.verify_property("star", "blue"):
            return "yes"
    return "no"
